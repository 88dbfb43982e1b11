import { DevxError, UsageError, isDevxError, CancelledError } from "../errors.ts";
import { exitCodeFor } from "./exit-codes.ts";
import { createDeps, type Deps } from "./deps.ts";
import { globalOptions, type Command, type GlobalOptions } from "./define.ts";
import { parseArgs } from "./parse.ts";
import { commandHelp, exitCodesHelp, groupHelp, rootHelp } from "./help.ts";
import { closest } from "./suggest.ts";
import { commands as allCommands } from "./commands/index.ts";
import * as v from "valibot";

const GLOBAL_WITH_VALUE = new Set(["-f", "--file", "--profile"]);

/** Split argv into the command path and the rest; global flags may come before the path. */
export function route(argv: string[], commands: Command[]): { cmd?: Command; prefix: string[]; rest: string[]; unknown?: string } {
  const pre: string[] = [];
  const words: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") break;
    if (a.startsWith("-")) {
      if (words.length > 0) break;
      // before the command path -f can only be the global --file (a command may reuse -f after it)
      pre.push(a === "-f" ? "--file" : a);
      if (GLOBAL_WITH_VALUE.has(a) && i + 1 < argv.length) pre.push(argv[++i]!);
      continue;
    }
    const candidate = [...words, a];
    const extends_ = commands.some((c) => candidate.every((w, j) => c.path[j] === w));
    if (!extends_) break;
    words.push(a);
  }
  const rest = [...pre, ...argv.slice(i)];
  const exact = commands.find((c) => c.path.length === words.length && c.path.every((w, j) => w === words[j]));
  if (exact) return { cmd: exact, prefix: words, rest };
  const next = argv[i];
  const unknown = next !== undefined && !next.startsWith("-") ? next : undefined;
  return { prefix: words, rest, unknown };
}

function quickGlobals(argv: string[]): Pick<GlobalOptions, "json" | "debug" | "noColor"> {
  const upto = argv.indexOf("--");
  const a = upto >= 0 ? argv.slice(0, upto) : argv;
  return { json: a.includes("--json"), debug: a.includes("--debug"), noColor: a.includes("--no-color") };
}

export async function runCli(argv: string[], overrides: Partial<Deps> = {}, commands: Command[] = allCommands): Promise<number> {
  const quick = quickGlobals(argv);
  const baseGlobals = v.parse(globalOptions, {}) as GlobalOptions;
  let deps = createDeps({ ...baseGlobals, ...quick }, overrides);
  try {
    if (argv.length === 0) {
      if (deps.io.stdinIsTTY && deps.io.out.isTTY) {
        const { runDashboard } = await import("../../tui/main.tsx");
        return await runDashboard(deps, commands);
      }
      deps.io.out.write(rootHelp(commands));
      return 0;
    }
    if (argv[0] === "help" || argv[0] === "--help" || argv[0] === "-h") {
      const topic = argv[0] === "help" ? argv.slice(1).filter((a) => !a.startsWith("-")) : [];
      if (topic.length === 0) deps.io.out.write(rootHelp(commands));
      else if (topic[0] === "exit-codes") deps.io.out.write(exitCodesHelp());
      else {
        const r = route(topic, commands);
        if (r.cmd) deps.io.out.write(commandHelp(r.cmd));
        else if (r.prefix.length > 0 && !r.unknown) deps.io.out.write(groupHelp(r.prefix, commands));
        else throw unknownCommand(topic, r.prefix, commands);
      }
      return 0;
    }
    const r = route(argv, commands);
    if (!r.cmd) {
      if (r.prefix.length > 0 && !r.unknown) {
        deps.io.out.write(groupHelp(r.prefix, commands));
        return 0;
      }
      throw unknownCommand([...r.prefix, r.unknown ?? argv.find((a) => !a.startsWith("-")) ?? ""], r.prefix, commands);
    }
    const parsed = parseArgs(r.cmd, r.rest) as GlobalOptions & Record<string, unknown>;
    if (parsed.help) {
      deps.io.out.write(commandHelp(r.cmd));
      return 0;
    }
    const globals = v.parse(globalOptions, Object.fromEntries(Object.keys(globalOptions.entries).map((k) => [k, parsed[k]])));
    deps = createDeps(globals, overrides);
    const code = await r.cmd.run(parsed as never, deps);
    return typeof code === "number" ? code : 0;
  } catch (e) {
    return reportError(e, deps, quick.debug, quick.json);
  }
}

function unknownCommand(words: string[], prefix: string[], commands: Command[]): UsageError {
  const shown = words.filter(Boolean).join(" ");
  const level = prefix.length;
  const candidates = new Set(commands.filter((c) => !c.hidden && prefix.every((w, i) => c.path[i] === w)).map((c) => c.path.slice(0, level + 1).join(" ")));
  const guess = closest(words.slice(0, level + 1).join(" "), candidates);
  return new UsageError(`unknown command "${shown}"`, guess ? `did you mean "devx ${guess}"?` : "run `devx help` to see the commands");
}

export function reportError(e: unknown, deps: Deps, debug: boolean, json: boolean): number {
  const err: DevxError = isDevxError(e)
    ? e
    : e instanceof Error && e.name === "AbortError"
      ? new CancelledError("cancelled", "")
      : Object.assign(new DevxError(e instanceof Error ? e.message : String(e), "this is a bug in devx: run again with --debug and report the output"), { cause: e });
  const code = exitCodeFor(err.kind);
  if (json) deps.io.out.write(JSON.stringify({ error: { kind: err.kind, message: err.message, hint: err.hint || undefined, exitCode: code } }) + "\n");
  const red = (s: string) => (deps.io.color ? `\x1b[31m${s}\x1b[0m` : s);
  deps.io.err.write(`${red("error:")} ${err.message}\n`);
  if (err.hint) deps.io.err.write(`  hint: ${err.hint}\n`);
  if (debug) {
    const stackOf = (x: unknown) => (x instanceof Error ? x.stack : undefined);
    deps.io.err.write(`${stackOf(err.cause) ?? stackOf(err) ?? ""}\n`);
  }
  return code;
}
