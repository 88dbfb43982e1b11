import { createHash, randomBytes, type Hash } from "node:crypto";
import * as fs from "node:fs";
import { promisify } from "node:util";
import type { FileStat } from "../session/protocol/index.ts";
import { fsError, procPath, Workspace, WorkspaceError, type Resolved } from "./workspace.ts";

/**
 * The file API over the workspace: every path goes through Workspace.resolve (confinement), every
 * operation acts beneath a pinned parent descriptor. Writes go to a temporary file beside the
 * target and are renamed over it when complete, so a reader (or an interrupted upload) never sees
 * half a file. `onWrite` marks session activity.
 */
const C = fs.constants;
const fsyncAsync = promisify(fs.fsync);
const writeAsync = (fd: number, b: Uint8Array, off: number, len: number) =>
  new Promise<number>((res, rej) => fs.write(fd, b, off, len, null, (e, n) => (e ? rej(e) : res(n))));
const readAsync = (fd: number, b: Uint8Array, pos: number) =>
  new Promise<number>((res, rej) => fs.read(fd, b, 0, b.length, pos, (e, n) => (e ? rej(e) : res(n))));

export const MAX_LIST = 20000;

export class Files {
  constructor(
    readonly ws: Workspace,
    private readonly onWrite: () => void = () => {},
  ) {}

  private with<T>(path: string, followFinal: boolean, f: (r: Resolved) => T): T {
    const r = this.ws.resolve(path, followFinal);
    try {
      return f(r);
    } catch (e) {
      throw fsError(e, path);
    } finally {
      r.close();
    }
  }

  stat(path: string, follow = true): FileStat {
    return this.with(path, follow, (r) => statOf(r.at, r.name === "." ? "" : r.name));
  }

  list(path: string): { entries: FileStat[]; truncated: boolean } {
    return this.with(path, true, (r) => {
      const fd = fs.openSync(r.at, C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
      try {
        const names = fs.readdirSync(procPath(fd)).sort();
        const entries: FileStat[] = [];
        for (const name of names.slice(0, MAX_LIST)) {
          try {
            entries.push(statOf(procPath(fd, name), name));
          } catch {
            /* removed while listing */
          }
        }
        return { entries, truncated: names.length > MAX_LIST };
      } finally {
        fs.closeSync(fd);
      }
    });
  }

  mkdir(path: string, parents = false): void {
    const parts = Workspace.components(path);
    if (parts.length === 0) throw new WorkspaceError("exists", "the workspace root already exists");
    if (parents) {
      for (let i = 1; i <= parts.length; i++) {
        const sub = parts.slice(0, i).join("/");
        this.with(sub, true, (r) => {
          try {
            fs.mkdirSync(r.at);
          } catch (e) {
            if ((e as NodeJS.ErrnoException).code !== "EEXIST" || !fs.statSync(r.at).isDirectory()) throw e;
          }
        });
      }
    } else {
      this.with(path, false, (r) => fs.mkdirSync(r.at));
    }
    this.onWrite();
  }

  rename(from: string, to: string, overwrite = false): void {
    const a = this.ws.resolve(from, false);
    try {
      const b = this.ws.resolve(to, false);
      try {
        if (a.name === "." || b.name === ".") throw new WorkspaceError("bad-request", "the workspace root cannot be renamed or replaced");
        if (!exists(a.at)) throw new WorkspaceError("not-found", `${from}: no such file or directory`);
        if (!overwrite && exists(b.at)) throw new WorkspaceError("exists", `${to}: already exists (pass overwrite)`);
        try {
          fs.renameSync(a.at, b.at);
        } catch (e) {
          throw fsError(e, (e as NodeJS.ErrnoException).code === "ENOENT" ? from : to);
        }
      } finally {
        b.close();
      }
    } finally {
      a.close();
    }
    this.onWrite();
  }

  remove(path: string, recursive = false): void {
    this.with(path, false, (r) => {
      if (r.name === ".") throw new WorkspaceError("bad-request", "the workspace root cannot be deleted");
      const st = fs.lstatSync(r.at);
      if (!st.isDirectory()) fs.unlinkSync(r.at);
      else if (recursive) removeTree(r.dir, r.name);
      else fs.rmdirSync(r.at);
    });
    this.onWrite();
  }

  /** Open a regular file for reading: the caller reads chunks with readChunk and closes fd. */
  openRead(path: string): { fd: number; size: number } {
    return this.with(path, true, (r) => {
      const fd = fs.openSync(r.at, C.O_RDONLY | C.O_NOFOLLOW | C.O_NONBLOCK);
      const st = fs.fstatSync(fd);
      if (!st.isFile()) {
        fs.closeSync(fd);
        throw new WorkspaceError(st.isDirectory() ? "is-a-directory" : "bad-request", `${path}: not a regular file`);
      }
      return { fd, size: st.size };
    });
  }

  /** Start writing `path` (replacing it when complete). */
  beginWrite(path: string, o: { mode?: number; parents?: boolean } = {}): Upload {
    const parts = Workspace.components(path);
    if (parts.length === 0) throw new WorkspaceError("is-a-directory", "the workspace root is a directory");
    if (o.parents && parts.length > 1) this.mkdir(parts.slice(0, -1).join("/"), true);
    const r = this.ws.resolve(path, true);
    try {
      if (r.name === ".") throw new WorkspaceError("is-a-directory", `${path}: is a directory`);
      let mode = o.mode;
      const existing = lstatMaybe(r.at);
      if (existing?.isDirectory()) throw new WorkspaceError("is-a-directory", `${path}: is a directory`);
      if (mode === undefined && existing?.isFile()) mode = existing.mode & 0o7777;
      const tmp = `.${r.name.slice(0, 200)}.devx-${randomBytes(6).toString("hex")}`;
      const fd = fs.openSync(procPath(r.dir, tmp), C.O_WRONLY | C.O_CREAT | C.O_EXCL | C.O_NOFOLLOW, 0o666);
      if (mode !== undefined) fs.fchmodSync(fd, mode);
      return new Upload(r, tmp, fd, () => this.onWrite());
    } catch (e) {
      r.close();
      throw fsError(e, path);
    }
  }
}

/** A write in progress: bytes go to a temporary file, renamed over the target by commit(). */
export class Upload {
  bytes = 0;
  private hash: Hash = createHash("sha256");
  private done = false;

  constructor(
    private readonly r: Resolved,
    private readonly tmp: string,
    private readonly fd: number,
    private readonly onWrite: () => void,
  ) {}

  async write(chunk: Uint8Array): Promise<void> {
    if (this.done) throw new WorkspaceError("bad-request", "write after end");
    let off = 0;
    try {
      while (off < chunk.length) off += await writeAsync(this.fd, chunk, off, chunk.length - off);
    } catch (e) {
      throw fsError(e, this.r.display);
    }
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }

  async commit(): Promise<{ bytes: number; sha256: string }> {
    if (this.done) throw new WorkspaceError("bad-request", "stream already ended");
    this.done = true;
    try {
      await fsyncAsync(this.fd);
      fs.closeSync(this.fd);
      fs.renameSync(procPath(this.r.dir, this.tmp), this.r.at);
    } catch (e) {
      this.cleanup();
      throw fsError(e, this.r.display);
    } finally {
      this.r.close();
    }
    this.onWrite();
    return { bytes: this.bytes, sha256: this.hash.digest("hex") };
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    try {
      fs.closeSync(this.fd);
    } catch {
      /* closed */
    }
    this.cleanup();
    this.r.close();
  }

  private cleanup(): void {
    try {
      fs.unlinkSync(procPath(this.r.dir, this.tmp));
    } catch {
      /* never created or gone */
    }
  }
}

export async function readChunk(fd: number, buf: Uint8Array, position: number): Promise<number> {
  return readAsync(fd, buf, position);
}

function statOf(p: string, name: string): FileStat {
  const st = fs.lstatSync(p);
  const type = st.isSymbolicLink() ? "symlink" : st.isDirectory() ? "dir" : st.isFile() ? "file" : "other";
  const out: FileStat = { name, type, size: st.size, mode: st.mode & 0o7777, mtimeMs: Math.floor(st.mtimeMs) };
  if (type === "symlink") out.target = fs.readlinkSync(p);
  return out;
}

function lstatMaybe(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}

function exists(p: string): boolean {
  return lstatMaybe(p) !== undefined;
}

/** rm -r beneath a pinned descriptor: never follows a link, so a swapped-in symlink is removed, not entered. */
function removeTree(parent: number, name: string): void {
  const at = procPath(parent, name);
  const st = fs.lstatSync(at);
  if (!st.isDirectory()) return fs.unlinkSync(at);
  const fd = fs.openSync(at, C.O_RDONLY | C.O_DIRECTORY | C.O_NOFOLLOW);
  try {
    for (const child of fs.readdirSync(procPath(fd))) removeTree(fd, child);
  } finally {
    fs.closeSync(fd);
  }
  fs.rmdirSync(at);
}
