import type { Deps } from "../../cli/deps.ts";

/**
 * Env from other capabilities for `devx run` / `devx shell`: the databases' connection env and
 * the bridge env. Each is undefined while that capability is not part of this build.
 */
export async function databaseEnvOf(_deps: Deps): Promise<Record<string, string> | undefined> {
  return undefined;
}

export async function bridgeEnvOf(_deps: Deps): Promise<Record<string, string> | undefined> {
  return undefined;
}
