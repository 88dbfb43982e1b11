import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Deps } from "../../deps.ts";
import { UsageError } from "../../../errors.ts";

/** Where the client commands find the control plane and their API token (never argv). */
export const DEFAULT_SERVER = "http://127.0.0.1:7420";

export async function client(deps: Deps, server: string | undefined) {
  const { ControlPlaneClient, parseServerUrl } = await import("../../../core/session/client.ts");
  const base = parseServerUrl(server ?? deps.env.DEVX_SESSION_SERVER ?? DEFAULT_SERVER);
  const token = deps.env.DEVX_SESSION_TOKEN?.trim();
  if (!token) throw new UsageError("no API token: set DEVX_SESSION_TOKEN", "create one with `devx session token create` where the control plane runs; tokens never go on the command line");
  return new ControlPlaneClient(base, token);
}

export function serverOf(deps: Deps, server: string | undefined): string {
  return server ?? deps.env.DEVX_SESSION_SERVER ?? DEFAULT_SERVER;
}

/** The control plane's SQLite file in the state directory. */
export function sqliteFile(deps: Deps): string {
  return join(deps.paths.state, "sessions", "control-plane.db");
}

/**
 * The store `--store` names: `sqlite` (default, in the state directory) or `redis://…`.
 * `mustExist`: a read-only caller gets undefined instead of creating an empty SQLite file.
 */
export async function openStore(deps: Deps, spec: string | undefined, o: { mustExist?: boolean } = {}) {
  const s = spec ?? deps.env.DEVX_SESSION_STORE ?? "sqlite";
  if (s === "sqlite") {
    const file = sqliteFile(deps);
    if (o.mustExist && !existsSync(file)) return undefined;
    const { SqliteStore } = await import("../../../core/session/store/sqlite.ts");
    return new SqliteStore(file);
  }
  if (/^rediss?:\/\//.test(s)) {
    const { RedisStore } = await import("../../../core/session/store/redis.ts");
    return new RedisStore(s);
  }
  throw new UsageError(`bad --store "${s}"`, "use sqlite (the default, in the state directory) or redis://host:port");
}

/** A store description safe to print (no password). */
export function storeLabel(deps: Deps, spec: string | undefined): string {
  const s = spec ?? deps.env.DEVX_SESSION_STORE ?? "sqlite";
  if (s === "sqlite") return `sqlite ${sqliteFile(deps)}`;
  try {
    const u = new URL(s);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(invalid)";
  }
}
