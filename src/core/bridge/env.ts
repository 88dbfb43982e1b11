import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../../platform/atomic.ts";
import { listSessions } from "../../platform/sessions.ts";

/**
 * The bridge env file (<state>/bridge/env): BRIDGE_<SVC>_URL/_HOST/_PORT for every live forward,
 * one KEY=value per line. `devx bridge env` prints it; `devx shell` / `devx run` inject it.
 */
export const bridgeEnvPath = (stateDir: string) => join(stateDir, "bridge", "env");

function parse(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

export async function readBridgeEnvFile(stateDir: string): Promise<Record<string, string>> {
  try {
    return parse(await readFile(bridgeEnvPath(stateDir), "utf8"));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw e;
  }
}

/**
 * What `devx shell` / `devx run` inject: the variables of every live forward. The file is the
 * record, but a forward whose process died (kill -9) leaves lines behind, so entries owned by dead
 * sessions are dropped here (and from the file).
 */
export async function readBridgeEnv(deps: { paths: { state: string } }): Promise<Record<string, string>> {
  const env = await readBridgeEnvFile(deps.paths.state);
  const records = await listSessions<{ mode?: string; env?: Record<string, string> }>(deps.paths.state, "bridge");
  const dead = records.filter((r) => r.stale && r.data.mode === "connect").flatMap((r) => Object.keys(r.data.env ?? {}));
  const live = new Set(records.filter((r) => !r.stale).flatMap((r) => Object.keys(r.data.env ?? {})));
  const gone = dead.filter((k) => !live.has(k) && k in env);
  if (gone.length) {
    for (const k of gone) delete env[k];
    await updateBridgeEnv(deps.paths.state, {}, gone).catch(() => {});
  }
  return env;
}

/** Set and remove variables, written atomically (readers never see half a file). */
export async function updateBridgeEnv(stateDir: string, set: Record<string, string>, remove: string[] = []): Promise<void> {
  const cur = await readBridgeEnvFile(stateDir);
  for (const k of remove) delete cur[k];
  Object.assign(cur, set);
  const body = Object.entries(cur)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`)
    .join("\n");
  await writeFileAtomic(bridgeEnvPath(stateDir), body ? body + "\n" : "");
}

/** A URL scheme guessed from the port's name / appProtocol / number. */
export function schemeFor(port: { name?: string; appProtocol?: string; port: number }): string {
  const n = `${port.appProtocol ?? ""} ${port.name ?? ""}`.toLowerCase();
  if (/https|tls/.test(n) || port.port === 443 || port.port === 8443) return "https";
  if (/grpc/.test(n)) return "grpc";
  if (/postgres/.test(n) || port.port === 5432) return "postgres";
  if (/redis/.test(n) || port.port === 6379) return "redis";
  if (/mysql/.test(n) || port.port === 3306) return "mysql";
  if (/http|web/.test(n) || [80, 3000, 8000, 8080].includes(port.port)) return "http";
  return "tcp";
}
