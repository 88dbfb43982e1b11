import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { runCli, route } from "../../../src/cli/run.ts";
import { main } from "../../../src/cli/main.ts";
import { memoryIO } from "../../../src/cli/io.ts";
import { arg, defineCommand, fieldMeta, flag, globalOptions, kebab, number, type Command } from "../../../src/cli/define.ts";
import { commands } from "../../../src/cli/commands/index.ts";

const calls: Array<{ path: string; opts: Record<string, unknown> }> = [];
const record = (path: string) => async (o: unknown) => void calls.push({ path, opts: o as Record<string, unknown> });
const fixture = [
  defineCommand({ path: ["db", "ls"], group: "Local infrastructure", dryRun: "read-only", summary: "list", options: v.object({ allProjects: flag("all") }), run: record("db ls") }),
  defineCommand({ path: ["db", "logs"], group: "Local infrastructure", dryRun: "read-only", summary: "logs", options: v.object({ target: arg("db"), tail: number("last N", { placeholder: "N" }), follow: flag("follow", { short: "F" }) }), run: record("db logs") }),
  defineCommand({ path: ["serve"], group: "Orchestration & state", dryRun: "unsupported", summary: "serve", options: v.object({}), run: record("serve") }),
] as unknown as Command[];

async function cli(argv: string[], tty = false) {
  calls.length = 0;
  const io = memoryIO({ tty });
  const code = await runCli(argv, { io, cwd: process.env.DEVX_TEST_ROOT! }, fixture);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe("flags anywhere, as with gh and cobra", () => {
  test("a flag before the subcommand applies to it (db --json ls)", async () => {
    const r = await cli(["db", "--json", "ls"]);
    expect(r.code).toBe(0);
    expect(calls).toEqual([{ path: "db ls", opts: expect.objectContaining({ json: true, allProjects: false }) }]);
    expect((await cli(["--json", "db", "--all-projects", "ls"])).code).toBe(0);
    expect(calls[0]!.opts).toMatchObject({ json: true, allProjects: true });
  });

  test("a flag's value is never read as a command word", () => {
    expect(route(["-f", "other/devx.yaml", "db", "ls"], fixture)).toMatchObject({ prefix: ["db", "ls"], rest: ["-f", "other/devx.yaml"] });
    expect(route(["db", "--tail", "5", "logs", "pg"], fixture)).toMatchObject({ prefix: ["db", "logs"], rest: ["--tail", "5", "pg"] });
    expect(route(["-yf", "x.yaml", "db", "ls"], fixture)).toMatchObject({ prefix: ["db", "ls"], rest: ["-yf", "x.yaml"] });
    expect(route(["--file=x.yaml", "db", "ls"], fixture)).toMatchObject({ prefix: ["db", "ls"] });
  });
});

describe("global flags without a command", () => {
  test("-f FILE without a terminal: the dashboard needs one (usage, exit 2), never 'unknown command'", async () => {
    const r = await cli(["-f", "other/devx.yaml"]);
    expect(r.code).toBe(2);
    expect(r.err).toBe("error: devx without a command opens the dashboard, which needs a terminal (stdin and stdout)\n  hint: name a command, e.g. `devx ps`; `devx help` lists them\n");
  });

  test("an unknown flag is an unknown flag, with a did-you-mean", async () => {
    const r = await cli(["--jsn"]);
    expect(r.code).toBe(2);
    expect(r.err).toBe("error: unknown flag --jsn for `devx`\n  hint: did you mean --json?\n");
    const inGroup = await cli(["db", "--dry-rn", "ls"]);
    expect(inGroup.err).toContain("unknown flag --dry-rn for `devx db ls`");
    expect(inGroup.err).toContain("did you mean --dry-run?");
  });

  test("--json alone is a JSON usage error", async () => {
    const r = await cli(["--json"], true);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.out).error).toMatchObject({ kind: "usage", message: "--json needs a command: the dashboard has no JSON form" });
  });

  test("--no-color or --debug alone without a terminal: the usage on stderr, exit 2", async () => {
    for (const flagWord of ["--no-color", "--debug"]) {
      const r = await cli([flagWord]);
      expect(r.code).toBe(2);
      expect(r.out).toBe("");
      expect(r.err).toStartWith("devx — ");
    }
  });

  test("a group without a subcommand: usage on stderr, exit 2; with --json an error document", async () => {
    const r = await cli(["db"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("Usage: devx db <command> [flags]");
    const j = await cli(["db", "--json"]);
    expect(j.code).toBe(2);
    expect(JSON.parse(j.out).error).toMatchObject({ message: "devx db needs a command", hint: "e.g. `devx db ls`; `devx help db` lists them" });
  });

  test("-v and --version print the version", async () => {
    for (const a of ["-v", "--version", "-V"]) {
      const io = memoryIO();
      expect(await main([a], { io })).toBe(0);
      expect(io.stdout()).toMatch(/^devx \d+\.\d+\.\d+\n$/);
    }
  });
});

describe("-f is --file everywhere", () => {
  test("on a command that follows, -f with a missing file says which flag follows", async () => {
    const r = await cli(["db", "logs", "-f", "pg"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('-f is --file (the path to devx.yaml), and "pg" does not exist');
    expect(r.err).toContain("use -F or --follow");
    expect((await cli(["db", "logs", "pg", "-F"])).code).toBe(0);
    expect(calls[0]!.opts).toMatchObject({ follow: true, target: "pg" });
  });

  test("no command reuses a global flag's name or short letter", () => {
    const globals = Object.entries(globalOptions.entries).map(([k, s]) => ({ name: kebab(k), short: fieldMeta(s as v.GenericSchema)!.meta.short }));
    for (const c of commands) {
      for (const [k, s] of Object.entries(c.options.entries)) {
        const m = fieldMeta(s as v.GenericSchema)?.meta;
        if (!m || m.kind === "arg") continue;
        const clash = globals.find((g) => g.name === kebab(k) || (m.short && g.short === m.short));
        expect(clash ? `devx ${c.path.join(" ")} --${kebab(k)}${m.short ? ` -${m.short}` : ""} clashes with --${clash.name}` : "").toBe("");
      }
    }
  });

  test("logs and db logs follow with -F/--follow", () => {
    for (const path of [["logs"], ["db", "logs"]]) {
      const c = commands.find((x) => x.path.join(" ") === path.join(" "))!;
      expect(fieldMeta(c.options.entries.follow as v.GenericSchema)!.meta.short).toBe("F");
    }
  });
});

describe("--dry-run", () => {
  test("a command without a plan refuses it instead of running", async () => {
    const r = await cli(["serve", "--dry-run"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("devx serve has no --dry-run");
    expect(calls).toEqual([]);
  });

  test("every registered command says what --dry-run means for it", () => {
    for (const c of commands) expect([c.path.join(" "), ["plan", "read-only", "unsupported"].includes(c.dryRun)]).toEqual([c.path.join(" "), true]);
    // the hidden roles that serve or run in a cluster have no plan
    expect(commands.filter((c) => c.dryRun === "unsupported").map((c) => c.path.join(" ")).sort()).toEqual(["agent", "bridge-agent", "example-service", "runner"]);
  });
});
