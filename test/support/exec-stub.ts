import type { Exec, ExecOptions, ExecResult, Spawned } from "../../src/platform/exec.ts";

/**
 * A strict stand-in for `Exec` (src/platform/exec.ts): a table of expected command lines, each with
 * the output the real CLI printed. A command nobody expected throws (and is remembered, so
 * `verify()` fails even if the caller swallowed the error); `verify()` also fails on a stub that was
 * never used. Each stub answers once unless `times` says otherwise.
 *
 *   const stub = new ExecStub([{ argv: ["podman", "--version"], stdout: "podman version 5.2.3\n" }]);
 *   ... run code with deps.exec = stub ...
 *   stub.verify();
 */
export type ArgMatcher = string | RegExp | ((arg: string) => boolean);

export interface StubEntry {
  argv: ArgMatcher[];
  stdout?: string;
  stderr?: string;
  code?: number;
  /** how many calls this entry answers (default 1; Infinity for a standing answer) */
  times?: number;
  /** inspect the call (stdin, env) — throw to fail the test */
  check?: (call: RecordedCall) => void;
}

export interface RecordedCall {
  argv: string[];
  input?: string;
  env?: Record<string, string | undefined>;
  inherit?: boolean;
}

function matches(m: ArgMatcher, a: string): boolean {
  if (typeof m === "string") return m === a;
  if (m instanceof RegExp) return m.test(a);
  return m(a);
}

const show = (argv: ArgMatcher[]) => argv.map((a) => (typeof a === "string" ? a : String(a))).join(" ");

export class ExecStub implements Exec {
  readonly calls: RecordedCall[] = [];
  private readonly entries: Array<StubEntry & { used: number }>;
  private readonly unexpected: string[] = [];

  /** `bins`: what `which()` finds (name → path); anything else is "not installed". */
  constructor(entries: StubEntry[], private readonly bins: Record<string, string> = {}) {
    this.entries = entries.map((e) => ({ ...e, used: 0 }));
  }

  /** add expectations after construction (e.g. once a temp path is known) */
  expect(...entries: StubEntry[]): this {
    for (const e of entries) this.entries.push({ ...e, used: 0 });
    return this;
  }

  which(bin: string): string | null {
    return this.bins[bin] ?? null;
  }

  async run(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const input = opts.input === undefined ? undefined : typeof opts.input === "string" ? opts.input : new TextDecoder().decode(opts.input);
    const call: RecordedCall = { argv, input, env: opts.env, inherit: opts.inherit };
    this.calls.push(call);
    const entry = this.entries.find((e) => e.used < (e.times ?? 1) && e.argv.length === argv.length && e.argv.every((m, i) => matches(m, argv[i]!)));
    if (!entry) {
      this.unexpected.push(argv.join(" "));
      throw new Error(`ExecStub: unexpected command: ${argv.join(" ")}\n  expected one of:\n${this.pending().map((p) => `    ${p}`).join("\n") || "    (nothing left)"}`);
    }
    entry.used++;
    entry.check?.(call);
    const stdout = entry.stdout ?? "";
    if (stdout && opts.onStdout) opts.onStdout(new TextEncoder().encode(stdout));
    return { argv, code: entry.code ?? 0, stdout, stderr: entry.stderr ?? "", timedOut: false };
  }

  spawn(argv: string[]): Spawned {
    this.unexpected.push(argv.join(" "));
    throw new Error(`ExecStub: unexpected spawn: ${argv.join(" ")}`);
  }

  /** expectations not (fully) used yet */
  pending(): string[] {
    return this.entries.filter((e) => e.times !== Infinity && e.used < (e.times ?? 1)).map((e) => show(e.argv));
  }

  /** fail on any unexpected call and on any stub never used */
  verify(): void {
    const problems: string[] = [];
    if (this.unexpected.length) problems.push(`unexpected commands:\n${this.unexpected.map((u) => `  ${u}`).join("\n")}`);
    const unused = this.entries.filter((e) => e.used === 0 || (e.times !== Infinity && e.used < (e.times ?? 1)));
    if (unused.length) problems.push(`stubs never used:\n${unused.map((e) => `  ${show(e.argv)}`).join("\n")}`);
    if (problems.length) throw new Error(`ExecStub: ${problems.join("\n")}`);
  }

  /** argv of every call, joined — handy for asserting order */
  lines(): string[] {
    return this.calls.map((c) => c.argv.join(" "));
  }
}
