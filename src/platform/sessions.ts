import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { pidAlive, readJson, writeFileAtomic } from "./atomic.ts";

/**
 * Records of live resources (intercepts, forwards, tunnels, supervisors) under
 * <state>/sessions/<kind>/<id>.json. Each carries the PID that owns it, so a record whose owner
 * died is detected as stale (doctor --fix, or the next start of the same kind).
 */
export interface SessionRecord<T = Record<string, unknown>> {
  kind: string;
  id: string;
  pid: number;
  startedAt: string;
  data: T;
}

export function sessionsDir(stateDir: string, kind?: string): string {
  return kind ? join(stateDir, "sessions", kind) : join(stateDir, "sessions");
}

export async function writeSession<T>(stateDir: string, kind: string, id: string, data: T, pid = process.pid): Promise<SessionRecord<T>> {
  const rec: SessionRecord<T> = { kind, id, pid, startedAt: new Date().toISOString(), data };
  await writeFileAtomic(join(sessionsDir(stateDir, kind), `${id}.json`), JSON.stringify(rec, null, 2));
  return rec;
}

export async function readSession<T>(stateDir: string, kind: string, id: string): Promise<SessionRecord<T> | undefined> {
  return readJson<SessionRecord<T>>(join(sessionsDir(stateDir, kind), `${id}.json`));
}

export async function removeSession(stateDir: string, kind: string, id: string): Promise<void> {
  await rm(join(sessionsDir(stateDir, kind), `${id}.json`), { force: true });
}

export async function listSessions<T>(stateDir: string, kind?: string): Promise<Array<SessionRecord<T> & { stale: boolean; file: string }>> {
  const root = sessionsDir(stateDir);
  const kinds = kind ? [kind] : await readdir(root).catch(() => [] as string[]);
  const out: Array<SessionRecord<T> & { stale: boolean; file: string }> = [];
  for (const k of kinds) {
    const dir = join(root, k);
    for (const f of await readdir(dir).catch(() => [] as string[])) {
      if (!f.endsWith(".json")) continue;
      const file = join(dir, f);
      const rec = await readJson<SessionRecord<T>>(file).catch(() => undefined);
      if (!rec) {
        out.push({ kind: k, id: f.slice(0, -5), pid: 0, startedAt: "", data: {} as T, stale: true, file });
        continue;
      }
      out.push({ ...rec, stale: !pidAlive(rec.pid), file });
    }
  }
  return out;
}
