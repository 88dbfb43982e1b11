import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname } from "node:path";

/**
 * Write a file so that after a crash (a kill, a power cut) it is either the old content or the new,
 * never torn or empty: a temp file in the same directory, fsync'd, renamed over the target, then
 * the directory fsync'd so the rename itself is on disk.
 */
export async function writeFileDurable(path: string, data: string, mode = 0o600): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const fh = await open(tmp, "w", mode);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await syncDir(dir);
}

/** fsync a directory (its entries: a rename or unlink in it reaches the disk) */
export async function syncDir(dir: string): Promise<void> {
  const dh = await open(dir, "r").catch(() => undefined);
  if (!dh) return;
  try {
    await dh.sync();
  } catch {
    /* some filesystems refuse fsync on directories: nothing more to do there */
  } finally {
    await dh.close();
  }
}
