import { DevxError, UsageError, isDevxError, CancelledError } from "../errors.ts";
import { exitCodeFor } from "./exit-codes.ts";
import { createDeps, type Deps } from "./deps.ts";
import { globalOptions, type Command, type GlobalOptions } from "./define.ts";
import { commandFields, parseArgs, parseGlobals } from "./parse.ts";
import { commandHelp, exitCodesHelp, groupHelp, rootHelp } from "./help.ts";
import { closest } from "../text/suggest.ts";
import { commands as allCommands } from "./commands/index.ts";
import * as v from "valibot";
import { paint, SGR } from "../text/style.ts";

export interface Routed {
  cmd?: Command;
  /** the command path words found */
  prefix: string[];
  /** every flag (with its value) and everything after the command path, for the parser */
  rest: string[];
  /** the first word that continues no command path */
  unknown?: string;
}

/** Does this flag word take the next word as its value, for a command under `prefix`? */
function takesValue(word: string, commands: Command[], prefix: string[]): boolean {
  if (word.startsWith("--")) {
    if (word.includes("=")) return false;
    const name = word.slice(2);
    return fieldsUnder(commands, prefix).some((f) => f.name === name && f.meta.kind !== "flag");
  }
  // grouped short flags: only the last letter can take the following word (-yf x.yaml)
  const letters = word.slice(1);
  const fields = fieldsUnder(commands, prefix);
  for (let j = 0; j < letters.length; j++) {
    const f = fields.find((x) => x.meta.short === letters[j]);
    if (!f) return false;
    if (f.meta.kind !== "flag") return j === letters.length - 1;
  }
  return false;
}

/** The flags of every command under a path prefix, global flags included. */
function fieldsUnder(commands: Command[], prefix: string[]) {
  const under = commands.filter((c) => prefix.every((w, i) => c.path[i] === w));
  const fields = under.flatMap((c) => commandFields(c).options);
  return [...(under[0] ? commandFields(under[0]).globals : []), ...fields];
}

/**
 * Split argv into the command path and the rest. Flags may come anywhere, before or inside the
 * path (`devx -f x.yaml db --json ls`, as with gh and cobra); a flag that takes a value takes the
 * next word with it, so a value is never read as a command.
 */
export function route(argv: string[], commands: Command[]): Routed {
  const flags: string[] = [];
  const words: string[] = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") break;
    if (a.startsWith("-") && a.length > 1) {
      flags.push(a);
      if (takesValue(a, commands, words) && i + 1 < argv.length) flags.push(argv[++i]!);
      continue;
    }
    const candidate = [...words, a];
    if (!commands.some((c) => candidate.every((w, j) => c.path[j] === w))) break;
    words.push(a);
  }
  const rest = [...flags, ...argv.slice(i)];
  const exact = commands.find((c) => c.path.length === words.length && c.path.every((w, j) => w === words[j]));
  if (exact) return { cmd: exact, prefix: words, rest };
  const next = argv[i];
  const unknown = next !== undefined && next !== "--" ? next : undefined;
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
    if (argv[0] === "__complete") {
      // the shell's Tab: a project named with -f/--profile on the line is the one whose names count
      const words = argv.slice(1);
      const valueOf = (long: string, short?: string) => {
        const at = words.slice(0, -1).findLastIndex((w) => w === long || w === short);
        return at >= 0 ? words[at + 1] : words.slice(0, -1).findLast((w) => w.startsWith(`${long}=`))?.slice(long.length + 1);
      };
      deps = createDeps({ ...baseGlobals, file: valueOf("--file", "-f"), profile: valueOf("--profile") }, overrides);
      const { complete, formatCompletions } = await import("./complete.ts");
      deps.io.out.write(formatCompletions(await complete(words, commands, deps)));
      return 0;
    }
    if (argv[0] === "help") {
      const topic = argv.slice(1).filter((a) => !a.startsWith("-"));
      if (topic.length === 0) deps.io.out.write(rootHelp(commands));
      else if (topic[0] === "exit-codes" && topic.length === 1) deps.io.out.write(exitCodesHelp());
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
      if (r.unknown !== undefined) throw unknownCommand([...r.prefix, r.unknown], r.prefix, commands);
      // no command: the words were a group (`devx db`) or nothing; the flags must still be real ones
      const globals = parseGlobals(r.rest, r.prefix);
      if (globals.help) {
        deps.io.out.write(r.prefix.length ? groupHelp(r.prefix, commands) : rootHelp(commands));
        return 0;
      }
      deps = createDeps(globals, overrides);
      if (r.prefix.length > 0) return usage(deps, groupHelp(r.prefix, commands), `devx ${r.prefix.join(" ")} needs a command`, `e.g. \`devx ${groupExample(r.prefix, commands)}\`; \`devx help ${r.prefix.join(" ")}\` lists them`);
      return await noCommand(deps, globals, commands);
    }
    await fileFlagMeantFollow(r.cmd, r.rest, deps.cwd);
    const parsed = parseArgs(r.cmd, r.rest) as GlobalOptions & Record<string, unknown>;
    if (parsed.help) {
      deps.io.out.write(commandHelp(r.cmd));
      return 0;
    }
    const globals = v.parse(globalOptions, Object.fromEntries(Object.keys(globalOptions.entries).map((k) => [k, parsed[k]])));
    deps = createDeps(globals, overrides);
    if (globals.dryRun && r.cmd.dryRun === "unsupported") {
      throw new UsageError(`devx ${r.cmd.path.join(" ")} has no --dry-run`, "it has no plan to print; run it without --dry-run, or not at all");
    }
    const code = await r.cmd.run(parsed as never, deps);
    return typeof code === "number" ? code : 0;
  } catch (e) {
    return reportError(e, deps, quick.debug, quick.json);
  }
}

/**
 * `devx` with no command: on a terminal the dashboard (of the -f/--profile project); otherwise
 * there is nothing to do, which is a usage error, not a success.
 */
async function noCommand(deps: Deps, globals: GlobalOptions, commands: Command[]): Promise<number> {
  if (globals.json) throw new UsageError("--json needs a command: the dashboard has no JSON form", "e.g. `devx ps --json`; `devx help` lists the commands");
  if (deps.io.stdinIsTTY && deps.io.out.isTTY) {
    const { runDashboard } = await import("../../tui/main.tsx");
    return await runDashboard(deps, commands);
  }
  // -f or --profile named a project to open: say why it cannot be
  if (globals.file !== undefined || globals.profile !== undefined) throw new UsageError("devx without a command opens the dashboard, which needs a terminal (stdin and stdout)", "name a command, e.g. `devx ps`; `devx help` lists them");
  return usage(deps, rootHelp(commands), "no command given", "`devx help` lists the commands; on a terminal, devx alone opens the dashboard");
}

/** Usage printed because nothing ran: on stderr, and a usage exit code (with --json, the error document). */
function usage(deps: Deps, text: string, message: string, hint: string): number {
  if (deps.global.json) throw new UsageError(message, hint);
  deps.io.err.write(text);
  return exitCodeFor("usage");
}

function groupExample(prefix: string[], commands: Command[]): string {
  const first = commands.find((c) => !c.hidden && prefix.every((w, i) => c.path[i] === w) && c.path.length > prefix.length);
  return first ? first.path.slice(0, prefix.length + 1).join(" ") : prefix.join(" ");
}

/**
 * `-f` is `--file` everywhere; people used to `docker logs -f` will type `devx logs -f api`. On a
 * command that can follow, a -f without a value or naming no file gets the flag that follows.
 */
async function fileFlagMeantFollow(cmd: Command, words: string[], cwd: string): Promise<void> {
  if (!("follow" in cmd.options.entries)) return;
  const end = words.indexOf("--");
  const at = words.slice(0, end < 0 ? undefined : end).findIndex((w) => w === "-f" || w === "--file" || w.startsWith("--file="));
  if (at < 0) return;
  const value = words[at]!.startsWith("--file=") ? words[at]!.slice(7) : words[at + 1];
  const { existsSync } = await import("node:fs");
  const { resolve } = await import("node:path");
  if (value !== undefined && existsSync(resolve(cwd, value))) return;
  const hint = `to follow the output, use -F or --follow: \`devx ${cmd.path.join(" ")} -F\``;
  if (value === undefined) throw new UsageError("-f is --file and needs the path to devx.yaml", hint);
  throw new UsageError(`-f is --file (the path to devx.yaml), and "${value}" does not exist`, hint);
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
  const red = (s: string) => paint(deps.io.color, SGR.red, s);
  deps.io.err.write(`${red("error:")} ${err.message}\n`);
  if (err.hint) deps.io.err.write(`  hint: ${err.hint}\n`);
  if (debug) {
    const stackOf = (x: unknown) => (x instanceof Error ? x.stack : undefined);
    deps.io.err.write(`${stackOf(err.cause) ?? stackOf(err) ?? ""}\n`);
  }
  return code;
}
