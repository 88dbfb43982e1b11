import { join } from "node:path";
import { homedir } from "node:os";

/** Where devx keeps its files. `DEVX_HOME` overrides both roots (tests set it). */
export interface Paths {
  /** sessions, checkpoints, snapshots, logs */
  state: string;
  /** user settings (config.yaml) */
  config: string;
}

export function resolvePaths(env: Record<string, string | undefined> = process.env): Paths {
  if (env.DEVX_HOME) return { state: join(env.DEVX_HOME, "state"), config: join(env.DEVX_HOME, "config") };
  const home = env.HOME || homedir();
  return {
    state: join(env.XDG_STATE_HOME || join(home, ".local", "state"), "devx"),
    config: join(env.XDG_CONFIG_HOME || join(home, ".config"), "devx"),
  };
}
