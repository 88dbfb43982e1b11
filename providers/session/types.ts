/** what one sandbox may use */
export interface SandboxLimits {
  cpus: number;
  memoryMiB: number;
  pids: number;
}

/**
 * Where sessions run. The local backend (podman.ts) makes one podman container per session with
 * its workspace in a labelled volume; the Kubernetes backend (issue 17) makes a Deployment. The
 * control plane asks only this interface, and finds its sandboxes again by label after a restart.
 */
export interface SandboxSpec {
  session: string;
  image: string;
  limits: SandboxLimits;
  /** outbound network from inside the sandbox (false: an internal network without egress) */
  egress: boolean;
  idleMinutes: number;
  maxHours: number;
  publicPorts: number[];
  /** labels the backend adds to everything it makes for this session */
  labels: Record<string, string>;
}

export type SandboxState = "created" | "running" | "exited" | "missing";

export interface SandboxInfo {
  session: string;
  /** the backend's name for it (container name) */
  name: string;
  state: SandboxState;
  /** the runner's exit code once it exited (RUNNER_EXIT: idle 20, lifetime 21, stopped 0) */
  exitCode?: number;
  /** where the control plane reaches the runner while it runs */
  runnerUrl?: string;
}

export interface SessionBackend {
  readonly name: string;
  /** Make the sandbox and its workspace (not started). Idempotent for the same session. */
  create(spec: SandboxSpec): Promise<void>;
  /**
   * The workspace as a directory the control plane may read and write (the local backend's volume
   * on this machine), for filling it before start and pushing it after stop.
   */
  workspaceDir(session: string): Promise<string>;
  /** Start the runner with the session secret (handed over as a file, never argv or env); resolves with its URL once it answers. */
  start(session: string, secretHex: string): Promise<{ runnerUrl: string }>;
  /** Stop the sandbox (the runner ends its terminals and commands); keeps it and its workspace. */
  stop(session: string): Promise<void>;
  /** Remove the sandbox and, unless told otherwise, its workspace. */
  remove(session: string, opts?: { keepWorkspace?: boolean }): Promise<void>;
  inspect(session: string): Promise<SandboxInfo>;
  /** every sandbox this backend made (by label), whatever the store says */
  list(): Promise<SandboxInfo[]>;
  /** the runner's own log (start-up, stops, errors) */
  logs(session: string, opts: { tail?: number }): Promise<string>;
}
