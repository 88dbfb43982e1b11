import { mkdir, open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { ConflictError } from "../../errors.ts";
import { pidAlive } from "../../platform/atomic.ts";

/**
 * One state-changing operation at a time per state directory: two captures or applies running
 * together would stop, replace and restore the same containers under each other. The lock file
 * holds the owner's PID; a lock whose owner is gone (a crash) is taken over.
 */
export async function withStateLock<T>(stateDir: string, what: string, fn: () => Promise<T>): Promise<T> {
  const file = join(stateDir, "state.lock");
  await mkdir(stateDir, { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(file, "wx", 0o600);
      await fh.writeFile(JSON.stringify({ pid: process.pid, what, since: new Date().toISOString() }));
      await fh.close();
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw e;
      const owner = JSON.parse(await readFile(file, "utf8").catch(() => "{}")) as { pid?: number; what?: string; since?: string };
      if (owner.pid && owner.pid !== process.pid && pidAlive(owner.pid)) {
        throw new ConflictError(`another devx is already working on this machine's state (${owner.what ?? "unknown"}, PID ${owner.pid}, since ${owner.since ?? "?"})`, "wait for it to finish; if that process is gone, run the command again");
      }
      await rm(file, { force: true });
    }
  }
  try {
    return await fn();
  } finally {
    await rm(file, { force: true });
  }
}
