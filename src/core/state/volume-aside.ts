import { chmod, chown, lstat, mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { VolumeInfo } from "../../../providers/runtime/types.ts";
import { syncDir } from "../../platform/durable.ts";

/**
 * A restore point keeps a volume's content by moving it, not copying it: every entry of the
 * volume's data directory is renamed into the restore point (same filesystem), and renamed back on
 * undo or rollback. That is instant whatever the size, and exact: sparse files, hard links, xattrs
 * and the directory's own inode (so its mode, owner and labels) stay as they were — an export and
 * import would bring a sparse file back fully allocated. Each rename is atomic, so a kill between
 * two leaves every entry in one place or the other; `state` says which side holds what.
 *
 * Only for volumes whose data directory is a plain directory on this machine that this process may
 * rename in (root, the runtime's local driver), on the state directory's filesystem; others are
 * exported into the restore point as before.
 */
export interface AsideEntry {
  volume: string;
  /** the volume's data directory on this machine */
  data: string;
  /** where its content waits, inside the restore point */
  saved: string;
  /**
   * planned: nothing moved yet; moving: some entries moved (the data directory holds only
   * originals); moved: the data directory holds new content; returning: the new content is in the
   * trash and the originals are coming back (the data directory holds only originals again)
   */
  state: "planned" | "moving" | "moved" | "returning";
  mode: number;
  uid: number;
  gid: number;
  labels: Record<string, string>;
}

/** Can `v`'s content be set aside in `root` (a restore-points directory, made later if need be)? */
export async function canSetAside(v: VolumeInfo, root: string, localRuntime: boolean): Promise<boolean> {
  if (!localRuntime || !v.mountpoint || process.getuid?.() !== 0) return false;
  const [data, there] = await Promise.all([stat(v.mountpoint).catch(() => undefined), statNearest(root)]);
  return !!data && !!there && data.isDirectory() && data.dev === there.dev;
}

/** stat of `path`, or of its nearest ancestor that exists (the filesystem it will be made on) */
async function statNearest(path: string): Promise<Awaited<ReturnType<typeof stat>> | undefined> {
  for (let p = path; ; p = dirname(p)) {
    const s = await stat(p).catch(() => undefined);
    if (s || dirname(p) === p) return s;
  }
}

export async function planAside(v: VolumeInfo, saved: string): Promise<AsideEntry> {
  const s = await lstat(v.mountpoint!);
  return { volume: v.name, data: v.mountpoint!, saved, state: "planned", mode: s.mode & 0o7777, uid: s.uid, gid: s.gid, labels: v.labels };
}

/** Move every entry of the data directory into `saved` (the caller recorded state "moving" first). */
export async function setAside(e: AsideEntry): Promise<void> {
  await mkdir(e.saved, { recursive: true, mode: 0o700 });
  for (const name of await readdir(e.data)) await rename(join(e.data, name), join(e.saved, name));
  await Promise.all([syncDir(e.data), syncDir(e.saved)]);
}

/**
 * Bring the set-aside content back: what the apply put in the data directory goes to `trash`, the
 * saved entries return, the directory gets its mode and owner back. `record` makes each change of
 * state durable before the renames that depend on it, so this can run again after a kill at any
 * point and never mistakes an original for new content.
 */
export async function putBack(e: AsideEntry, trash: string, record: (state: AsideEntry["state"]) => Promise<void>): Promise<void> {
  if (e.state === "planned") return;
  await mkdir(e.data, { recursive: true });
  if (e.state === "moved") {
    await mkdir(trash, { recursive: true, mode: 0o700 });
    for (const name of await readdir(e.data)) await rename(join(e.data, name), join(trash, name));
    await syncDir(trash);
    await record("returning");
  }
  for (const name of await readdir(e.saved).catch(() => [] as string[])) await rename(join(e.saved, name), join(e.data, name));
  await chown(e.data, e.uid, e.gid);
  await chmod(e.data, e.mode);
  await syncDir(e.data);
  await rm(trash, { recursive: true, force: true });
  await rm(e.saved, { recursive: true, force: true });
}
