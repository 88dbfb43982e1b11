import { link, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { ConflictError } from "../../errors.ts";
import type { Emit } from "../../events/types.ts";
import { pidAlive } from "../../platform/atomic.ts";
import { sleepUnlessAborted } from "../../platform/clock.ts";

/**
 * One writer at a time per tunnel on this machine. Cloudflare's tunnel configuration endpoint takes
 * the whole document and has no version check, so two devx commands that read-modify-write it at the
 * same time lose one's change; they take this lock around every read-modify-write-verify.
 *
 * The lock is <state>/locks/cloudflare-tunnel-<id>.lock, created atomically (a complete temp file
 * hard-linked into place, so a reader never sees half a record) and holding the owner's PID, host,
 * command and a nonce. A lock whose PID is dead on this host is stale and taken over; the takeover
 * itself runs under a second, short-lived lock so two waiters cannot both remove it and one of them
 * then remove the other's fresh lock.
 */
export interface LockHolder {
  pid: number;
  host: string;
  nonce: string;
  command: string;
  since: string;
}

export interface LockDeps {
  paths: { state: string };
  emit: Emit;
  signal?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 5 * 60_000;

export function tunnelLockPath(state: string, tunnelId: string): string {
  return join(state, "locks", `cloudflare-tunnel-${tunnelId.replace(/[^A-Za-z0-9-]/g, "_")}.lock`);
}

async function readHolder(path: string): Promise<LockHolder | undefined | "unreadable"> {
  try {
    const h = JSON.parse(await readFile(path, "utf8")) as LockHolder;
    return typeof h.pid === "number" && typeof h.nonce === "string" ? h : "unreadable";
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? undefined : "unreadable";
  }
}

/** Hard-link a file holding `me` to `path`; false when something is there already. */
async function tryCreate(path: string, me: LockHolder): Promise<boolean> {
  const tmp = `${path}.${me.pid}.${me.nonce}.tmp`;
  await writeFile(tmp, JSON.stringify(me), { mode: 0o600 });
  try {
    await link(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  } finally {
    await rm(tmp, { force: true });
  }
}

const isStale = (h: LockHolder) => h.host === hostname() && !pidAlive(h.pid);

/** Remove `path` if it still holds the stale record `seen`, under the takeover guard. */
async function takeOver(path: string, seen: LockHolder | "unreadable", me: LockHolder): Promise<void> {
  const guard = `${path}.takeover`;
  if (!(await tryCreate(guard, me))) {
    const g = await readHolder(guard);
    // a guard is held for a few milliseconds; one left by a dead process is removed
    if (g && g !== "unreadable" && isStale(g)) await rm(guard, { force: true });
    if (g === "unreadable" && Date.now() - (await stat(guard).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs > 10_000) await rm(guard, { force: true });
    return;
  }
  try {
    const now = await readHolder(path);
    const same = seen === "unreadable" ? now === "unreadable" : now !== undefined && now !== "unreadable" && now.nonce === seen.nonce;
    if (same) await rm(path, { force: true });
  } finally {
    await rm(guard, { force: true });
  }
}

/**
 * Run `fn` holding the tunnel's lock. Waits (announcing once whom it waits for) while another live
 * devx process holds it, up to `timeoutMs`; then fails with a ConflictError naming the holder.
 */
export async function withTunnelLock<T>(deps: LockDeps, tunnelId: string, command: string, fn: () => Promise<T>, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
  const path = tunnelLockPath(deps.paths.state, tunnelId);
  await mkdir(join(deps.paths.state, "locks"), { recursive: true });
  const me: LockHolder = { pid: process.pid, host: hostname(), nonce: crypto.randomUUID(), command, since: new Date().toISOString() };
  const deadline = Date.now() + timeoutMs;
  // a command already cancelled is cleaning up (devx up unexposing on Ctrl-C): its waits run to the end
  const signal = deps.signal?.aborted ? undefined : deps.signal;
  let announced = false;
  let pause = 10;
  for (;;) {
    if (await tryCreate(path, me)) break;
    const holder = await readHolder(path);
    if (holder === undefined) continue;
    const unreadableFor = holder === "unreadable" ? Date.now() - (await stat(path).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs : 0;
    if ((holder !== "unreadable" && isStale(holder)) || unreadableFor > 10_000) {
      await takeOver(path, holder, me);
      continue;
    }
    const who = holder === "unreadable" ? "another devx command" : `devx (pid ${holder.pid}, ${holder.command})`;
    if (Date.now() > deadline) throw new ConflictError(`${who} has been changing tunnel ${tunnelId} for too long`, `wait for it to finish, or stop it; a lock whose process died is taken over by itself (${path})`);
    if (!announced) {
      deps.emit({ type: "info", message: `waiting for ${who} to finish with tunnel ${tunnelId}` });
      announced = true;
    }
    if (signal?.aborted) throw signal.reason;
    await sleepUnlessAborted(pause, signal ?? new AbortController().signal);
    pause = Math.min(pause * 2, 200);
  }
  try {
    return await fn();
  } finally {
    const h = await readHolder(path);
    if (h && h !== "unreadable" && h.nonce === me.nonce) await rm(path, { force: true });
  }
}
