import type { NodeSpec } from "../graph.ts";
import type { Exposed } from "../env.ts";
import type { Emit } from "../../../events/types.ts";

/** What a runtime (host process, container, bridge, database) gives back for a started node. */
export interface Running {
  pid?: number;
  /** resolves with the exit code when the node ends on its own or is stopped */
  exited: Promise<number>;
  /** SIGTERM (or the runtime's stop), then force after graceMs; resolves when it is gone */
  stop(graceMs: number): Promise<void>;
  /** an exec health check in the node's context (host shell, or inside the container) */
  exec(argv: string[], timeoutMs: number): Promise<number>;
  /** env for dependents when the runtime knows better than host:port (databases, bridge) */
  exposed?: Exposed;
  /** the runtime reports readiness itself (database ready check, bridge forward live) */
  selfHealthy?: boolean;
}

export interface StartContext {
  node: NodeSpec;
  project: string;
  /** the resolved host port */
  port?: number;
  env: Record<string, string>;
  /** devx.yaml's directory: relative cwd of host services resolves against it */
  baseDir: string;
  /** the id of this `devx up` run, for the devx.session label of what a runtime creates */
  runId?: string;
  line(text: string, stream: "stdout" | "stderr"): void;
  /** status for the user (an image pull that is about to start) */
  emit?: Emit;
  signal: AbortSignal;
}

export interface NodeRuntime {
  start(ctx: StartContext): Promise<Running>;
}
