import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { runCli, route } from "../../../src/cli/run.ts";
import { main } from "../../../src/cli/main.ts";
import { memoryIO } from "../../../src/cli/io.ts";
import { defineCommand, flag, type Command } from "../../../src/cli/define.ts";
import { EXIT_CODES, exitCodeFor } from "../../../src/cli/exit-codes.ts";
import { ConflictError, IntegrityError, PassphraseError, TruncatedError, CancelledError } from "../../../src/errors.ts";

const calls: unknown[] = [];
const fixture: Command[] = [
  defineCommand({ path: ["state", "share"], group: "Orchestration & state", dryRun: "plan", summary: "share the environment", options: v.object({ dbOnly: flag("db only") }), async run(o) { calls.push(o); } }),
  defineCommand({ path: ["state", "list"], group: "Orchestration & state", dryRun: "plan", summary: "list snapshots", options: v.object({}), async run() { throw new ConflictError("port 5432 is busy", "stop whatever holds it, or pass --port"); } }),
  defineCommand({ path: ["doctor"], group: "Testing & telemetry", dryRun: "plan", summary: "check things", options: v.object({}), async run() { return 0; } }),
  defineCommand({ path: ["boom"], group: "Testing & telemetry", dryRun: "plan", summary: "crash", options: v.object({}), async run() { throw new TypeError("undefined is not a function"); } }),
] as unknown as Command[];

async function cli(argv: string[], tty = false) {
  const io = memoryIO({ tty });
  const code = await runCli(argv, { io }, fixture);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe("routing", () => {
  test("finds nested commands, with global flags before or after", async () => {
    expect(route(["state", "share", "--db-only"], fixture).cmd?.path).toEqual(["state", "share"]);
    expect(route(["--json", "-f", "x.yaml", "state", "share"], fixture)).toMatchObject({ prefix: ["state", "share"], rest: ["--json", "-f", "x.yaml"] });
    calls.length = 0;
    expect((await cli(["--json", "state", "share", "--db-only"])).code).toBe(0);
    expect(calls[0]).toMatchObject({ dbOnly: true, json: true });
  });

  test("an unknown command suggests the closest, exit 2", async () => {
    const r = await cli(["stat", "share"]);
    expect(r.code).toBe(2);
    expect(r.err).toBe('error: unknown command "stat"\n  hint: did you mean "devx state"?\n');
    const sub = await cli(["state", "shar"]);
    expect(sub.err).toContain('did you mean "devx state share"?');
  });

  test("a group alone prints its commands on stderr and exits 2: nothing ran", async () => {
    const r = await cli(["state"]);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toContain("state share");
    expect(r.err).toContain("state list");
    // asked for, it is help: stdout, 0
    const asked = await cli(["state", "--help"]);
    expect(asked.code).toBe(0);
    expect(asked.out).toContain("state share");
    expect((await cli(["help", "state"])).code).toBe(0);
  });

  test("no arguments without a TTY prints the help on stderr and exits 2", async () => {
    const r = await cli([]);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toContain("Usage:");
    expect(r.err).toContain("Orchestration & state:");
    const asked = await cli(["--help"]);
    expect([asked.code, asked.out]).toEqual([0, r.err]);
  });

  test("help topics: command, group, exit-codes", async () => {
    expect((await cli(["help", "state", "share"])).out).toContain("Usage:\n  devx state share [flags]");
    expect((await cli(["state", "share", "--help"])).out).toContain("--db-only");
    const codes = (await cli(["help", "exit-codes"])).out;
    for (const e of EXIT_CODES) expect(codes).toContain(`${String(e.code).padStart(3)}  ${e.kind}`);
  });
});

describe("errors", () => {
  test("typed errors print one line, a hint, and their exit code", async () => {
    const r = await cli(["state", "list"]);
    expect(r.code).toBe(5);
    expect(r.err).toBe("error: port 5432 is busy\n  hint: stop whatever holds it, or pass --port\n");
  });

  test("--json puts one error document on stdout", async () => {
    const r = await cli(["state", "list", "--json"]);
    expect(JSON.parse(r.out)).toEqual({ error: { kind: "conflict", message: "port 5432 is busy", hint: "stop whatever holds it, or pass --port", exitCode: 5 } });
  });

  test("unexpected errors exit 1, stack only with --debug", async () => {
    const plain = await cli(["boom"]);
    expect(plain.code).toBe(1);
    expect(plain.err).not.toContain("at ");
    const debug = await cli(["boom", "--debug"]);
    expect(debug.err).toContain("TypeError: undefined is not a function");
    expect(debug.err).toMatch(/\n\s+at /);
  });

  test("the exit code table is one-to-one", () => {
    expect(new Set(EXIT_CODES.map((e) => e.code)).size).toBe(EXIT_CODES.length);
    expect(exitCodeFor(new PassphraseError("x").kind)).toBe(10);
    expect(exitCodeFor(new IntegrityError("x").kind)).toBe(9);
    expect(exitCodeFor(new TruncatedError("x").kind)).toBe(11);
    expect(exitCodeFor(new CancelledError("x").kind)).toBe(130);
  });
});

test("--version answers without loading the command registry", async () => {
  const io = memoryIO();
  expect(await main(["--version"], { io })).toBe(0);
  expect(io.stdout()).toMatch(/^devx \d+\.\d+\.\d+\n$/);
});

test("confirm without a TTY and without -y names the flag", async () => {
  const cmd = defineCommand({ path: ["nuke"], group: "Local infrastructure", dryRun: "plan", summary: "x", options: v.object({}), async run(_o, d) { await d.confirm("Delete everything?"); } });
  const io = memoryIO();
  const code = await runCli(["nuke"], { io }, [cmd as unknown as Command]);
  expect(code).toBe(2);
  expect(io.stderr()).toContain("pass -y/--yes");
  expect(await runCli(["nuke", "-y"], { io: memoryIO() }, [cmd as unknown as Command])).toBe(0);
  const declined = memoryIO({ tty: true, answers: ["n"] });
  expect(await runCli(["nuke"], { io: declined }, [cmd as unknown as Command])).toBe(130);
});
