import { closeSync, constants, lstatSync, openSync, readlinkSync, realpathSync, type Stats } from "node:fs";
import type { ErrorCode } from "../session/protocol/index.ts";

/**
 * Paths from clients, confined to the workspace root. A client path is relative to the root;
 * absolute paths, `..` and NUL are refused before anything touches the disk. The path is then
 * walked one component at a time from an open descriptor of the root, each directory opened
 * relative to its parent's descriptor (`/proc/self/fd/<dirfd>/<name>`, i.e. openat) with
 * O_NOFOLLOW|O_DIRECTORY. A symlink met on the way is read and followed only while it stays
 * inside the root (its `..` cannot climb above the root; an absolute target must lie under the
 * root's real path); one that leaves is refused. Because each step opens beneath a descriptor
 * already checked, a symlink swapped in between a check and a use makes the open fail instead of
 * leading out (the race podman's securejoin and openat2(RESOLVE_BENEATH) close the same way).
 *
 * Operations then act on `/proc/self/fd/<parent fd>/<name>`: the parent is pinned by its
 * descriptor, the final component is never followed by rename/unlink/mkdir, and opens of the final
 * component add O_NOFOLLOW.
 */
export class WorkspaceError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface Resolved {
  /** descriptor of the directory holding `name` (owned by the Resolved: call close()) */
  dir: number;
  /** final component; "." for the root itself */
  name: string;
  /** the path as the client gave it, for messages */
  display: string;
  /** `/proc/self/fd/<dir>/<name>`: the final component, beneath its pinned parent */
  at: string;
  close(): void;
}

const MAX_LINKS = 40;
const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

export const procPath = (fd: number, name = ".") => `/proc/self/fd/${fd}/${name}`;

export class Workspace {
  readonly root: string;

  /**
   * `afterCheck` runs between the look at a component and its use: tests swap a symlink in there
   * to prove the use does not follow it. Unset in production.
   */
  constructor(
    root: string,
    private readonly afterCheck?: (component: string, last: boolean) => void,
  ) {
    this.root = realpathSync(root);
    if (!lstatSync(this.root).isDirectory()) throw new Error(`workspace ${root} is not a directory`);
  }

  /** Split a client path into components, refusing what may never name something in the workspace. */
  static components(path: string): string[] {
    if (path.includes("\0")) throw new WorkspaceError("escape", "a path may not contain NUL");
    if (path.startsWith("/")) throw new WorkspaceError("escape", `${path}: absolute paths are refused; paths are relative to the workspace`);
    const parts = path.split("/").filter((p) => p !== "" && p !== ".");
    if (parts.includes("..")) throw new WorkspaceError("escape", `${path}: ".." is refused; paths are relative to the workspace`);
    return parts;
  }

  /**
   * Resolve a client path. `followFinal`: a symlink as the last component is followed (inside the
   * root only); otherwise the link itself is named (stat without follow, delete, rename).
   */
  resolve(path: string, followFinal: boolean): Resolved {
    const queue = Workspace.components(path);
    const stack: number[] = [openSync(this.root, DIR_FLAGS)];
    const closeAll = () => {
      for (const fd of stack) closeSync(fd);
      stack.length = 0;
    };
    let links = 0;
    try {
      while (queue.length > 0) {
        const c = queue.shift()!;
        if (c === "..") {
          // only from a symlink's target: never above the root
          if (stack.length === 1) throw new WorkspaceError("escape", `${path}: a symlink on the way leads out of the workspace`);
          closeSync(stack.pop()!);
          continue;
        }
        const dir = stack[stack.length - 1]!;
        const last = queue.length === 0;
        const st = lstatOrUndefined(procPath(dir, c));
        if (st?.isSymbolicLink() && (!last || followFinal)) {
          if (++links > MAX_LINKS) throw new WorkspaceError("escape", `${path}: too many levels of symbolic links`);
          queue.unshift(...this.linkTarget(procPath(dir, c), path, stack));
          continue;
        }
        this.afterCheck?.(c, last);
        if (last) {
          const top = stack.pop()!;
          closeAll();
          return resolved(top, c, path);
        }
        if (!st) throw new WorkspaceError("not-found", `${path}: ${c} does not exist`);
        if (!st.isDirectory()) throw new WorkspaceError("not-a-directory", `${path}: ${c} is not a directory`);
        try {
          stack.push(openSync(procPath(dir, c), DIR_FLAGS));
        } catch (e) {
          // replaced by a symlink (or removed) since the lstat: refuse rather than guess
          throw fsError(e, path);
        }
      }
      const top = stack.pop()!;
      closeAll();
      return resolved(top, ".", path);
    } catch (e) {
      closeAll();
      throw e;
    }
  }

  /** A symlink's target as components to walk next; an absolute target restarts from the root. */
  private linkTarget(at: string, path: string, stack: number[]): string[] {
    const target = readlinkSync(at);
    if (target.startsWith("/")) {
      if (target !== this.root && !target.startsWith(`${this.root}/`)) throw new WorkspaceError("escape", `${path}: a symlink on the way points outside the workspace`);
      while (stack.length > 1) closeSync(stack.pop()!);
      return target.slice(this.root.length).split("/").filter((p) => p !== "" && p !== ".");
    }
    return target.split("/").filter((p) => p !== "" && p !== ".");
  }

  /** The client-facing path of an absolute path under the root (for watch events). */
  relative(abs: string): string | undefined {
    if (abs === this.root) return "";
    return abs.startsWith(`${this.root}/`) ? abs.slice(this.root.length + 1) : undefined;
  }
}

function resolved(dir: number, name: string, display: string): Resolved {
  let open = true;
  return {
    dir,
    name,
    display,
    at: procPath(dir, name),
    close() {
      if (open) closeSync(dir);
      open = false;
    },
  };
}

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

/** A filesystem error as a protocol error code and a message naming the client's path (never the host path). */
export function fsError(e: unknown, path: string): WorkspaceError {
  if (e instanceof WorkspaceError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case "ENOENT":
      return new WorkspaceError("not-found", `${path}: no such file or directory`);
    case "EEXIST":
      return new WorkspaceError("exists", `${path}: already exists`);
    case "ENOTDIR":
      return new WorkspaceError("not-a-directory", `${path}: not a directory`);
    case "EISDIR":
      return new WorkspaceError("is-a-directory", `${path}: is a directory`);
    case "ENOTEMPTY":
      return new WorkspaceError("not-empty", `${path}: directory not empty`);
    case "ELOOP":
      return new WorkspaceError("escape", `${path}: a symbolic link was met where none may be (changed while in use?)`);
    case "EACCES":
    case "EPERM":
      return new WorkspaceError("forbidden", `${path}: permission denied`);
    case "ENOSPC":
    case "EDQUOT":
      return new WorkspaceError("io", `${path}: no space left`);
    default:
      return new WorkspaceError("io", `${path}: ${code ?? (e as Error).message}`);
  }
}
