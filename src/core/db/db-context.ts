import type { CoreDeps } from "../deps.ts";
import type { DatabaseConfig } from "../../config/schema.ts";
import { projectName } from "../../config/project.ts";
import type { Emit } from "../../events/types.ts";
import type { Exec } from "../../platform/exec.ts";
import type { ContainerRuntime } from "../../../providers/runtime/types.ts";

/** What the database use-cases need; built from CoreDeps by the commands, or by `devx up`. */
export interface DbContext {
  runtime: ContainerRuntime;
  /** the devx.project label value */
  project: string;
  stateDir: string;
  emit: Emit;
  signal: AbortSignal;
  /** `databases:` of devx.yaml (empty without one), in file order */
  configured: DatabaseConfig[];
  /** is this host port free on 127.0.0.1? (tests swap it) */
  portFree?: (port: number) => Promise<boolean>;
  /** readiness poll interval in ms (default 200) */
  pollMs?: number;
}

/**
 * Ctrl-C must end every runtime child devx started (a `logs -f`, a `run` waiting on a pull): they
 * run in their own process groups, so the terminal's SIGINT never reaches them.
 */
export function abortableExec(exec: Exec, signal: AbortSignal): Exec {
  return {
    which: (bin) => exec.which(bin),
    run: (argv, opts) => exec.run(argv, { ...opts, signal: opts?.signal ?? signal }),
    spawn(argv, opts) {
      const child = exec.spawn(argv, opts);
      const kill = () => child.kill("SIGTERM");
      signal.addEventListener("abort", kill, { once: true });
      void child.exited.finally(() => signal.removeEventListener("abort", kill));
      return child;
    },
  };
}

export async function dbContext(deps: CoreDeps, runtime?: ContainerRuntime): Promise<DbContext> {
  const loaded = await deps.findConfig();
  const exec = abortableExec(deps.exec, deps.signal);
  const rt = runtime ?? (await import("../../../providers/runtime/index.ts")).detectRuntime({ exec, env: deps.env, paths: deps.paths }, loaded?.config.provider);
  return {
    runtime: rt,
    project: projectName(loaded, deps.cwd),
    stateDir: deps.paths.state,
    emit: deps.emit,
    signal: deps.signal,
    configured: loaded?.config.databases ?? [],
  };
}
