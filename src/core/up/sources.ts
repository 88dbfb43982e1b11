import type { CoreDeps } from "../deps.ts";

/**
 * Env from other capabilities for `devx run` / `devx shell`: the databases' connection env (empty,
 * with a warning, when no container runtime works) and the bridge env of live connects.
 */
export async function databaseEnvOf(deps: CoreDeps): Promise<Record<string, string> | undefined> {
  const { databaseEnv } = await import("../db/databases.ts");
  return databaseEnv(deps);
}

export async function bridgeEnvOf(deps: CoreDeps): Promise<Record<string, string> | undefined> {
  const { readBridgeEnv } = await import("../bridge/env.ts");
  return readBridgeEnv(deps);
}
