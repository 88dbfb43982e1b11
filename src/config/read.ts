import { constants } from "node:fs";
import { open, readlink, realpath, stat } from "node:fs/promises";
import { sep } from "node:path";
import { createHash } from "node:crypto";

/** No devx.yaml or included file may be larger than this. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

export type ReadRefusal =
  | { reason: "missing" }
  | { reason: "outside"; real: string }
  | { reason: "not-a-file"; type: string }
  | { reason: "too-large"; size: number }
  | { reason: "unreadable"; detail: string };

export type ReadResult = { ok: true; text: string; real: string; bytes: number; sha256: string } | ({ ok: false } & ReadRefusal);

/** Is `path` the directory `dir` or beneath it? Both are real (resolved) paths. */
export function inside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

function typeOf(s: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (s.isDirectory()) return "a directory";
  if (s.isFIFO()) return "a FIFO (named pipe)";
  if (s.isCharacterDevice()) return "a character device";
  if (s.isBlockDevice()) return "a block device";
  if (s.isSocket()) return "a socket";
  return "not a regular file";
}

/**
 * Read a config file that devx.yaml (or the user) names, refusing before a byte is read: a path
 * that resolves (through symlinks and "..") outside every directory in `within`, anything but a
 * regular file (a FIFO would block, /dev/zero never ends, opening some devices has effects), and a
 * file larger than `maxBytes`. The type is checked on the resolved path before opening, then again
 * on the open descriptor (O_NONBLOCK, O_NOFOLLOW), whose real path is checked against `within`
 * once more where /proc tells it, so a path swapped in between is refused too. At most
 * `maxBytes` + 1 bytes are ever read.
 */
export async function readConfigFile(path: string, opts: { within?: string[]; maxBytes?: number } = {}): Promise<ReadResult> {
  const max = opts.maxBytes ?? MAX_CONFIG_BYTES;
  const errno = (e: unknown) => (e as NodeJS.ErrnoException).code;
  let real: string;
  try {
    real = await realpath(path);
  } catch (e) {
    if (errno(e) === "ENOENT" || errno(e) === "ENOTDIR") return { ok: false, reason: "missing" };
    if (errno(e) === "ELOOP") return { ok: false, reason: "unreadable", detail: "a symlink loop" };
    return { ok: false, reason: "unreadable", detail: (e as Error).message };
  }
  const allowed = (p: string) => !opts.within || opts.within.some((d) => inside(p, d));
  if (!allowed(real)) return { ok: false, reason: "outside", real };
  try {
    const st = await stat(real);
    if (!st.isFile()) return { ok: false, reason: "not-a-file", type: typeOf(st) };
    if (st.size > max) return { ok: false, reason: "too-large", size: st.size };
  } catch (e) {
    return { ok: false, reason: "unreadable", detail: (e as Error).message };
  }
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW | (constants.O_NOCTTY ?? 0));
  } catch (e) {
    if (errno(e) === "ELOOP") return { ok: false, reason: "not-a-file", type: "a symlink swapped in while devx read it" };
    return { ok: false, reason: "unreadable", detail: (e as Error).message };
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { ok: false, reason: "not-a-file", type: typeOf(st) };
    if (st.size > max) return { ok: false, reason: "too-large", size: st.size };
    const opened = await readlink(`/proc/self/fd/${fh.fd}`).catch(() => real);
    if (!allowed(opened)) return { ok: false, reason: "outside", real: opened };
    const buf = Buffer.alloc(max + 1);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
      if (n > max) return { ok: false, reason: "too-large", size: n };
    }
    const bytes = buf.subarray(0, n);
    return { ok: true, text: bytes.toString("utf8"), real, bytes: n, sha256: createHash("sha256").update(bytes).digest("hex") };
  } catch (e) {
    return { ok: false, reason: "unreadable", detail: (e as Error).message };
  } finally {
    await fh.close();
  }
}
