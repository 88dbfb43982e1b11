import type { Subprocess } from "bun";
import { FRAME, type ProcInfo } from "../session/protocol/index.ts";
import { OutputChannel } from "./output.ts";
import { killTree } from "./os.ts";
import type { ExitInfo } from "./terminals.ts";

/**
 * Commands run from an argv (never through a shell built from client data), each the leader of
 * its own session so that ending it ends everything it started. stdout and stderr are output
 * channels like a terminal's: streamed to attached clients, paused (the pipe is no longer read, so
 * the command blocks in write) while a client is behind. A foreground command belongs to the
 * connection that started it and ends with it; a background command belongs to the session and
 * can be attached to again.
 */
export interface ProcSpec {
  argv: string[];
  cwd: string;
  env: Record<string, string>;
  stdin: boolean;
  background: boolean;
  timeoutMs?: number;
}

export interface ProcsOptions {
  scrollback: number;
  maxLag: number;
  maxProcs: number;
  keepExited: number;
  killGraceMs: number;
}

export class Proc {
  readonly startedAt = Date.now();
  readonly stdout: OutputChannel;
  readonly stderr: OutputChannel;
  exit?: ExitInfo;
  /** resolves once the exit is known and both streams have ended */
  readonly done: Promise<void>;
  private proc: Subprocess<"pipe" | "ignore", "pipe", "pipe">;
  private gates = new Map<OutputChannel, { paused: boolean; wake?: () => void }>();

  constructor(
    readonly id: number,
    readonly spec: ProcSpec,
    private readonly o: ProcsOptions,
  ) {
    const channel = (kind: typeof FRAME.execStdout | typeof FRAME.execStderr) => {
      const ch: OutputChannel = new OutputChannel({ kind, channel: id, scrollback: o.scrollback, maxLag: o.maxLag, pause: () => this.gate(ch, true), resume: () => this.gate(ch, false) });
      this.gates.set(ch, { paused: false });
      return ch;
    };
    const stdout = (this.stdout = channel(FRAME.execStdout));
    const stderr = (this.stderr = channel(FRAME.execStderr));
    const proc = Bun.spawn(spec.argv, { cwd: spec.cwd, env: spec.env, stdin: spec.stdin ? "pipe" : "ignore", stdout: "pipe", stderr: "pipe", detached: true });
    this.proc = proc;
    const timer = spec.timeoutMs ? setTimeout(() => void killTree(proc.pid, o.killGraceMs), spec.timeoutMs) : undefined;
    const out = this.pipe(proc.stdout, stdout);
    const err = this.pipe(proc.stderr, stderr);
    this.done = (async () => {
      const code = await proc.exited;
      clearTimeout(timer);
      const signal = proc.signalCode == null ? null : String(proc.signalCode);
      // a child left holding the pipes (`cmd &` inside the command) must not keep it running
      const ended = Promise.all([out, err]);
      if ((await Promise.race([ended.then(() => true), Bun.sleep(500).then(() => false)])) === false) {
        await killTree(proc.pid, o.killGraceMs);
        await ended;
      }
      this.exit = { code: signal ? null : code, signal };
      stdout.finish();
      stderr.finish();
    })();
  }

  get pid(): number {
    return this.proc.pid;
  }

  private async pipe(stream: ReadableStream<Uint8Array>, ch: OutputChannel): Promise<void> {
    const reader = stream.getReader();
    const gate = this.gates.get(ch)!;
    for (;;) {
      while (gate.paused) await new Promise<void>((r) => (gate.wake = r));
      const { value, done } = await reader.read();
      if (done) return;
      ch.push(value);
    }
  }

  private gate(ch: OutputChannel, paused: boolean): void {
    const g = this.gates.get(ch)!;
    g.paused = paused;
    if (!paused) {
      g.wake?.();
      g.wake = undefined;
    }
  }

  async writeStdin(data: Uint8Array): Promise<void> {
    const sink = this.proc.stdin;
    if (!sink || this.exit) return;
    try {
      sink.write(data);
      await sink.flush();
    } catch {
      /* the command closed its stdin */
    }
  }

  endStdin(): void {
    try {
      this.proc.stdin?.end();
    } catch {
      /* already closed */
    }
  }

  signal(sig: NodeJS.Signals): void {
    try {
      process.kill(-this.proc.pid, sig);
    } catch {
      /* gone */
    }
  }

  async kill(): Promise<void> {
    if (!this.exit) await killTree(this.proc.pid, this.o.killGraceMs);
    this.gate(this.stdout, false);
    this.gate(this.stderr, false);
    await this.done;
  }

  info(): ProcInfo {
    return { proc: this.id, pid: this.pid, argv: this.spec.argv, background: this.spec.background, startedAt: this.startedAt, ...(this.exit ? { exit: this.exit } : {}) };
  }
}

export class Procs {
  private next = 1;
  private byId = new Map<number, Proc>();

  constructor(private readonly o: ProcsOptions) {}

  get runningForeground(): number {
    let n = 0;
    for (const p of this.byId.values()) if (!p.exit && !p.spec.background) n++;
    return n;
  }

  start(spec: ProcSpec): Proc {
    let live = 0;
    for (const p of this.byId.values()) if (!p.exit) live++;
    if (live >= this.o.maxProcs) throw new RangeError(`at most ${this.o.maxProcs} running commands per session`);
    const p = new Proc(this.next++, spec, this.o);
    this.byId.set(p.id, p);
    void p.done.then(() => this.prune());
    return p;
  }

  get(id: number): Proc | undefined {
    return this.byId.get(id);
  }

  list(): Proc[] {
    return [...this.byId.values()];
  }

  /** Forget a foreground command once its owner has seen it end. */
  forget(id: number): void {
    const p = this.byId.get(id);
    if (p?.exit) this.byId.delete(id);
  }

  async killAll(): Promise<void> {
    await Promise.all([...this.byId.values()].map((p) => p.kill()));
  }

  private prune(): void {
    const exited = [...this.byId.values()].filter((p) => p.exit && p.stdout.attachedCount === 0 && p.stderr.attachedCount === 0);
    for (const p of exited.slice(0, Math.max(0, exited.length - this.o.keepExited))) this.byId.delete(p.id);
  }
}
