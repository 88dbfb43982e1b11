import * as fs from "node:fs";
import { fsError, type Workspace } from "./workspace.ts";

/**
 * Change events under a workspace directory (recursive inotify through fs.watch). Events are
 * coalesced per path for a short window and classified by looking at the path afterwards
 * (created, modified, deleted). Pending paths are bounded: past the bound, and while the client's
 * socket is congested for too long, the client gets one `fs.overflow` and should list again — the
 * same contract as inotify's queue overflow, never a silent gap.
 */
export type Change = "created" | "modified" | "deleted";

const COALESCE_MS = 30;
const MAX_PENDING = 4096;

export class Watch {
  private watcher: fs.FSWatcher;
  private pending = new Map<string, "rename" | "change">();
  private timer?: ReturnType<typeof setTimeout>;
  private overflowed = false;
  private readonly dir: string;
  private readonly root: string;

  constructor(
    ws: Workspace,
    path: string,
    private readonly out: { congested(): boolean; change(path: string, change: Change): void; overflow(): void },
  ) {
    this.root = ws.root;
    const r = ws.resolve(path, true);
    try {
      const fd = fs.openSync(r.at, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW);
      try {
        // the directory's real path, taken from the descriptor that was opened beneath the root
        this.dir = fs.readlinkSync(`/proc/self/fd/${fd}`);
      } finally {
        fs.closeSync(fd);
      }
    } catch (e) {
      throw fsError(e, path);
    } finally {
      r.close();
    }
    const rel = ws.relative(this.dir);
    if (rel === undefined) throw fsError(Object.assign(new Error("outside"), { code: "ELOOP" }), path);
    const prefix = rel === "" ? "" : `${rel}/`;
    this.watcher = fs.watch(this.dir, { recursive: true }, (event, name) => {
      if (!name) return;
      const p = `${prefix}${name}`;
      const prev = this.pending.get(p);
      this.pending.set(p, prev === "rename" ? "rename" : event);
      if (this.pending.size > MAX_PENDING) {
        this.pending.clear();
        this.overflowed = true;
      }
      this.timer ??= setTimeout(() => this.flush(), COALESCE_MS);
    });
    this.watcher.on("error", () => {
      this.overflowed = true;
      this.flush();
    });
  }

  flush(): void {
    this.timer = undefined;
    if (this.out.congested()) {
      this.timer = setTimeout(() => this.flush(), COALESCE_MS * 4);
      return;
    }
    if (this.overflowed) {
      this.overflowed = false;
      this.pending.clear();
      this.out.overflow();
      return;
    }
    const batch = [...this.pending];
    this.pending.clear();
    for (const [p, event] of batch) {
      let exists = true;
      try {
        fs.lstatSync(`${this.root}/${p}`);
      } catch {
        exists = false;
      }
      this.out.change(p, !exists ? "deleted" : event === "rename" ? "created" : "modified");
    }
  }

  close(): void {
    clearTimeout(this.timer);
    this.watcher.close();
  }
}
