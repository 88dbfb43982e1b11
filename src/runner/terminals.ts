import type { Subprocess } from "bun";
import { FRAME, type TerminalInfo } from "../session/protocol/index.ts";
import { OutputChannel } from "./output.ts";
import { controllingPts, killTree, setTtyStopped } from "./os.ts";

/**
 * The session's terminals: each a PTY (Bun.spawn with `terminal`) running a program (a login
 * shell by default) as the leader of its own session. A terminal belongs to the session, not to a
 * socket: it keeps running when every client is gone and any client can attach to it again, with
 * its scrollback replayed. Closing it (or the session) ends its whole process tree.
 */
export interface TerminalSpec {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  cols: number;
  rows: number;
}

export interface TerminalsOptions {
  scrollback: number;
  maxLag: number;
  maxTerminals: number;
  /** exited terminals kept (for their scrollback and exit status) before the oldest is dropped */
  keepExited: number;
  killGraceMs: number;
  log(line: string): void;
}

export type ExitInfo = { code: number | null; signal: string | null };

/** Pending keystrokes (written to the PTY, not yet taken by the kernel) above which input waits. */
const MAX_PENDING_INPUT = 1024 * 1024;

export class Term {
  readonly createdAt = Date.now();
  readonly output: OutputChannel;
  exit?: ExitInfo;
  private pendingInput = 0;
  private drained: (() => void)[] = [];
  private pts?: string;
  private proc!: Subprocess;
  private closing?: Promise<void>;
  private eof!: Promise<void>;

  constructor(
    readonly id: number,
    readonly spec: TerminalSpec,
    private readonly o: TerminalsOptions,
    onExit: (t: Term) => void,
  ) {
    this.output = new OutputChannel({
      kind: FRAME.termOutput,
      channel: id,
      scrollback: o.scrollback,
      maxLag: o.maxLag,
      pause: () => this.flow(true),
      resume: () => this.flow(false),
    });
    let eofSeen!: () => void;
    this.eof = new Promise((r) => (eofSeen = r));
    this.proc = Bun.spawn(spec.argv, {
      cwd: spec.cwd,
      env: spec.env,
      terminal: {
        cols: spec.cols,
        rows: spec.rows,
        name: spec.env.TERM ?? "xterm-256color",
        data: (_t, chunk) => this.output.push(chunk),
        exit: () => eofSeen(),
        drain: () => {
          this.pendingInput = 0;
          for (const w of this.drained.splice(0)) w();
        },
      },
    });
    void this.proc.exited.then(async (code) => {
      const signal = this.proc.signalCode == null ? null : String(this.proc.signalCode);
      // output still in the PTY arrives after the exit; a background job holding the PTY open
      // must not keep the terminal alive, so the wait for end-of-file is short and the tree goes
      await Promise.race([this.eof, Bun.sleep(300)]);
      await killTree(this.proc.pid, this.o.killGraceMs);
      this.exit = { code: signal ? null : code, signal };
      this.release();
      this.output.finish();
      onExit(this);
    });
  }

  get pid(): number {
    return this.proc.pid;
  }

  /** Keystrokes. Returns a promise when the program is not reading and input must wait. */
  write(data: Uint8Array): Promise<void> | void {
    if (this.exit || this.closing) return;
    this.output.nudge();
    this.proc.terminal!.write(data);
    this.pendingInput += data.length;
    if (this.pendingInput > MAX_PENDING_INPUT) return new Promise((r) => this.drained.push(r));
  }

  resize(cols: number, rows: number): void {
    this.spec.cols = cols;
    this.spec.rows = rows;
    if (!this.exit && !this.closing) this.proc.terminal!.resize(cols, rows);
  }

  /** End the terminal: its whole process tree, then the PTY. Resolves once the exit is recorded. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (!this.exit) {
        await killTree(this.proc.pid, this.o.killGraceMs);
        await this.proc.exited;
        while (!this.exit) await Bun.sleep(5);
      }
      this.release();
    })();
    return this.closing;
  }

  info(): TerminalInfo {
    return {
      term: this.id,
      pid: this.pid,
      argv: this.spec.argv,
      cols: this.spec.cols,
      rows: this.spec.rows,
      createdAt: this.createdAt,
      end: this.output.end,
      attached: this.output.attachedCount,
      paused: this.output.paused,
      ...(this.exit ? { exit: this.exit } : {}),
    };
  }

  private flow(stop: boolean): void {
    if (this.exit) return;
    this.pts ??= controllingPts(this.proc.pid);
    if (!this.pts || !setTtyStopped(this.pts, stop)) this.o.log(`terminal ${this.id}: could not ${stop ? "pause" : "resume"} its output`);
  }

  private release(): void {
    for (const w of this.drained.splice(0)) w();
    const t = this.proc.terminal;
    if (t && !t.closed) t.close();
  }
}

export class Terminals {
  private next = 1;
  private byId = new Map<number, Term>();

  constructor(private readonly o: TerminalsOptions) {}

  get liveCount(): number {
    let n = 0;
    for (const t of this.byId.values()) if (!t.exit) n++;
    return n;
  }

  open(spec: TerminalSpec, onExit: (t: Term) => void): Term {
    if (this.liveCount >= this.o.maxTerminals) throw new RangeError(`at most ${this.o.maxTerminals} terminals per session`);
    const t = new Term(this.next++, spec, this.o, (t) => {
      this.pruneExited();
      onExit(t);
    });
    this.byId.set(t.id, t);
    return t;
  }

  get(id: number): Term | undefined {
    return this.byId.get(id);
  }

  list(): Term[] {
    return [...this.byId.values()];
  }

  async close(id: number): Promise<void> {
    const t = this.byId.get(id);
    if (!t) return;
    await t.close();
    t.output.close();
    this.byId.delete(id);
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.byId.keys()].map((id) => this.close(id)));
  }

  private pruneExited(): void {
    const exited = [...this.byId.values()].filter((t) => t.exit && t.output.attachedCount === 0);
    for (const t of exited.slice(0, Math.max(0, exited.length - this.o.keepExited))) this.byId.delete(t.id);
  }
}
