/**
 * A strict Exec fake for the gcloud relay: every call must match the next expected argv exactly,
 * an unexpected call throws, and verify() fails when an expectation was never used.
 */
import type { Exec, ExecResult, Spawned } from "../../../src/platform/exec.ts";

type RunStub = { kind: "run"; argv: string[]; result: { code?: number; stdout?: string; stderr?: string } };
type SpawnStub = {
  kind: "spawn";
  argv: string[];
  /** bytes gcloud writes to stdout (cat) */
  stdout?: Uint8Array;
  stderr?: string;
  code?: number;
  /** receives what was written to stdin (cp -) once stdin is closed */
  onStdin?(data: Buffer): void;
};

export class ExecStub implements Exec {
  private queue: Array<RunStub | SpawnStub> = [];
  readonly calls: string[][] = [];
  /** argv of every spawned child that was killed */
  readonly killed: string[][] = [];
  constructor(private readonly installed = true) {}

  expectRun(argv: string[], result: RunStub["result"]): this {
    this.queue.push({ kind: "run", argv, result });
    return this;
  }

  run(argv: string[]): Promise<ExecResult> {
    const s = this.take("run", argv) as RunStub;
    return Promise.resolve({ argv, code: s.result.code ?? 0, stdout: s.result.stdout ?? "", stderr: s.result.stderr ?? "", timedOut: false });
  }

  expectSpawn(stub: Omit<SpawnStub, "kind">): this {
    this.queue.push({ kind: "spawn", ...stub });
    return this;
  }

  spawn(argv: string[]): Spawned {
    const s = this.take("spawn", argv) as SpawnStub;
    const chunks: Buffer[] = [];
    let finish!: (code: number) => void;
    const exited = new Promise<number>((r) => (finish = r));
    const hasStdin = s.onStdin !== undefined;
    const stdin = hasStdin
      ? {
          write(c: Uint8Array) {
            chunks.push(Buffer.from(c));
            return c.length;
          },
          flush() {
            return 0;
          },
          end() {
            s.onStdin!(Buffer.concat(chunks));
            finish(s.code ?? 0);
            return 0;
          },
        }
      : undefined;
    if (!hasStdin) queueMicrotask(() => finish(s.code ?? 0));
    const bytes = (b?: Uint8Array | string) =>
      new ReadableStream<Uint8Array>({
        start(c) {
          if (b && b.length > 0) c.enqueue(typeof b === "string" ? new TextEncoder().encode(b) : b);
          c.close();
        },
      });
    return {
      pid: 4242,
      stdin: stdin as unknown as Spawned["stdin"],
      stdout: bytes(s.stdout),
      stderr: bytes(s.stderr),
      exited,
      kill: () => {
        this.killed.push(argv);
        finish(143);
      },
    };
  }

  which(bin: string): string | null {
    return this.installed ? `/usr/bin/${bin}` : null;
  }

  verify(): void {
    if (this.queue.length > 0) throw new Error(`expected calls never made: ${this.queue.map((q) => q.argv.join(" ")).join("; ")}`);
  }

  private take(kind: "run" | "spawn", argv: string[]): RunStub | SpawnStub {
    this.calls.push(argv);
    const next = this.queue.shift();
    if (!next || next.kind !== kind || next.argv.join("\0") !== argv.join("\0")) {
      throw new Error(`unexpected ${kind}: ${argv.join(" ")}${next ? ` (expected ${next.kind}: ${next.argv.join(" ")})` : ""}`);
    }
    return next;
  }
}
