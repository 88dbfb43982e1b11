import * as v from "valibot";
import { arg, defineCommand, flag, number, option, variadicArg } from "../../define.ts";
import { ProviderError, UsageError } from "../../../errors.ts";
import type { Deps } from "../../deps.ts";

/**
 * The client side of sessions: these commands talk to a control plane (`devx session serve`) at
 * --server / DEVX_SESSION_SERVER with the API token in DEVX_SESSION_TOKEN (never argv). Dry runs
 * print the request they would make and contact nothing.
 */
const server = () => option("the control plane (default: DEVX_SESSION_SERVER, else http://127.0.0.1:7420)", { placeholder: "url" });
const idArg = () => arg("the session's id", { placeholder: "session", actions: [v.regex(/^[a-z0-9][a-z0-9-]{2,40}$/, "a session id: 3–41 lowercase letters, digits and dashes")] });
const GROUP = "Orchestration & state" as const;

function planLine(deps: Deps, what: string, plan: Record<string, unknown>): number {
  deps.io.out.write(deps.global.json ? JSON.stringify({ plan }) + "\n" : `would ${what}\n`);
  return 0;
}

async function serverUrl(deps: Deps, srv: string | undefined): Promise<string> {
  const { serverOf } = await import("./context.ts");
  const { parseServerUrl } = await import("../../../core/session/client.ts");
  return parseServerUrl(serverOf(deps, srv));
}

interface Row {
  id: string;
  state: string;
  owner: string;
  template: string;
  created: string;
  detail?: string;
}
function table(rows: Row[]): string {
  const w = (k: keyof Row, min: number) => Math.max(min, ...rows.map((r) => String(r[k] ?? "").length)) + 2;
  const [iw, sw, ow, tw] = [w("id", 2), w("state", 5), w("owner", 5), w("template", 8)];
  const head = `${"ID".padEnd(iw)}${"STATE".padEnd(sw)}${"OWNER".padEnd(ow)}${"TEMPLATE".padEnd(tw)}${"CREATED".padEnd(22)}DETAIL\n`;
  return head + rows.map((r) => `${r.id.padEnd(iw)}${r.state.padEnd(sw)}${r.owner.padEnd(ow)}${r.template.padEnd(tw)}${r.created.slice(0, 19).padEnd(22)}${r.detail ?? ""}`.trimEnd() + "\n").join("");
}

export const create = defineCommand({
  path: ["session", "create"],
  group: GROUP,
  dryRun: "plan",
  summary: "create a sandboxed session and start it (a container from a template's image)",
  examples: ["devx session create", "devx session create --name my-repl --cpus 1 --memory 1024 --no-egress --json"],
  options: v.object({
    name: option("the session's id (default: <template>-<random>)", { placeholder: "id", actions: [v.regex(/^[a-z0-9][a-z0-9-]{2,40}$/, "3–41 lowercase letters, digits and dashes")] }),
    template: option("template to start from (default: default)", { placeholder: "template" }),
    cpus: number("CPU limit", { placeholder: "n", min: 1, max: 64 }),
    memory: number("memory limit in MiB", { placeholder: "MiB", min: 64, max: 262144 }),
    pids: number("process limit", { placeholder: "n", min: 16, max: 65536 }),
    noEgress: flag("no outbound network from inside the sandbox"),
    idle: number("stop after this many minutes without activity", { placeholder: "minutes", min: 1, max: 1440 }),
    maxHours: number("stop this many hours after start, whatever the activity", { placeholder: "hours", min: 1, max: 168 }),
    server: server(),
  }),
  async run(opts, deps) {
    const body = { template: opts.template, name: opts.name, cpus: opts.cpus, memoryMiB: opts.memory, pids: opts.pids, egress: opts.noEgress ? false : undefined, idleMinutes: opts.idle, maxHours: opts.maxHours };
    if (opts.dryRun) return planLine(deps, `create session ${opts.name ?? "(generated id)"} from template ${opts.template ?? "default"} on ${await serverUrl(deps, opts.server)}`, { create: body, server: await serverUrl(deps, opts.server) });
    const { client } = await import("./context.ts");
    const s = await (await client(deps, opts.server)).create(body);
    deps.io.out.write(deps.global.json ? JSON.stringify({ session: s }) + "\n" : `${s.id}\n`);
    if (!deps.global.json) deps.io.err.write(`session ${s.id} is ${s.state} (a terminal: devx session attach ${s.id})\n`);
    return 0;
  },
});

export const ls = defineCommand({
  path: ["session", "ls"],
  group: GROUP,
  dryRun: "read-only",
  summary: "list your sessions (all of them with an admin token)",
  examples: ["devx session ls", "devx session ls --json"],
  options: v.object({ server: server() }),
  async run(opts, deps) {
    const { client } = await import("./context.ts");
    const sessions = await (await client(deps, opts.server)).list();
    if (deps.global.json) deps.io.out.write(JSON.stringify({ sessions }, null, 2) + "\n");
    else deps.io.out.write(sessions.length ? table(sessions) : "no sessions (create one with `devx session create`)\n");
    return 0;
  },
});

function transition(verb: "start" | "stop") {
  return defineCommand({
    path: ["session", verb],
    group: GROUP,
    dryRun: "plan",
    summary: verb === "start" ? "start a stopped session again (its workspace as it was left)" : "stop a session: its processes end, its workspace is kept",
    examples: [`devx session ${verb} my-repl`],
    options: v.object({ id: idArg(), server: server() }),
    async run(opts, deps) {
      if (opts.dryRun) return planLine(deps, `${verb} session ${opts.id} on ${await serverUrl(deps, opts.server)}`, { [verb]: opts.id, server: await serverUrl(deps, opts.server) });
      const { client } = await import("./context.ts");
      const c = await client(deps, opts.server);
      const s = verb === "start" ? await c.start(opts.id) : await c.stop(opts.id);
      if (s.state === "persist-failed") {
        // not stopped: its files could not be saved, so its sandbox stays until the retry succeeds
        throw new ProviderError(`session ${s.id} could not be stopped: ${s.detail ?? "saving its workspace to the bucket failed"}`, "its sandbox and files are kept and the control plane retries the push; `devx session ls` shows when it is stopped");
      }
      deps.io.out.write(deps.global.json ? JSON.stringify({ session: s }) + "\n" : `session ${s.id} is ${s.state}\n`);
      return 0;
    },
  });
}
export const start = transition("start");
export const stop = transition("stop");

export const rm = defineCommand({
  path: ["session", "rm"],
  group: GROUP,
  dryRun: "plan",
  summary: "delete a session for good: its sandbox and its workspace (asks first; -y answers yes)",
  examples: ["devx session rm my-repl", "devx session rm my-repl -y --json"],
  options: v.object({ id: idArg(), server: server() }),
  async run(opts, deps) {
    if (opts.dryRun) return planLine(deps, `delete session ${opts.id} (sandbox and workspace) on ${await serverUrl(deps, opts.server)}`, { remove: opts.id, server: await serverUrl(deps, opts.server) });
    const { client } = await import("./context.ts");
    const c = await client(deps, opts.server);
    await deps.confirm(`Delete session ${opts.id} and its workspace?`);
    await c.remove(opts.id);
    deps.io.out.write(deps.global.json ? JSON.stringify({ removed: opts.id }) + "\n" : `removed session ${opts.id}\n`);
    return 0;
  },
});

export const exec = defineCommand({
  path: ["session", "exec"],
  group: GROUP,
  dryRun: "plan",
  summary: "run a command in a session (argv as given, no shell) and exit with its exit code",
  description: "stdout and stderr stream through; with -i stdin is sent to the command. With --json the output is collected and printed as one JSON object.",
  examples: ["devx session exec my-repl -- ls -la", "devx session exec my-repl -- bash -c 'make test'", "devx session exec my-repl --json -- git status"],
  options: v.object({
    id: idArg(),
    argv: variadicArg("the command and its arguments (after --)", { placeholder: "command", required: true }),
    cwd: option("working directory inside the workspace", { placeholder: "dir" }),
    interactive: flag("send stdin to the command", { short: "i" }),
    server: server(),
  }),
  async run(opts, deps) {
    if (!opts.argv.length) throw new UsageError("devx session exec needs a command", "devx session exec <session> -- <command> [args…]");
    if (opts.dryRun) return planLine(deps, `run in session ${opts.id}: ${opts.argv.join(" ")}`, { exec: { session: opts.id, argv: opts.argv, cwd: opts.cwd ?? null }, server: await serverUrl(deps, opts.server) });
    const { client } = await import("./context.ts");
    const { execInSession } = await import("../../../core/session/client.ts");
    const c = await client(deps, opts.server);
    const json = deps.global.json;
    const outs: Uint8Array[] = [];
    const errs: Uint8Array[] = [];
    const stdin = opts.interactive ? (process.stdin as unknown as AsyncIterable<Uint8Array>) : undefined;
    const r = await execInSession(c, opts.id, opts.argv, { stdout: (b) => (json ? outs.push(b.slice()) : process.stdout.write(b)), stderr: (b) => (json ? errs.push(b.slice()) : process.stderr.write(b)) }, { cwd: opts.cwd, stdin });
    if (json) deps.io.out.write(JSON.stringify({ session: opts.id, argv: opts.argv, exitCode: r.code, signal: r.signal, stdout: Buffer.concat(outs).toString("utf8"), stderr: Buffer.concat(errs).toString("utf8") }) + "\n");
    return r.code ?? 128 + 9;
  },
});

export const attach = defineCommand({
  path: ["session", "attach"],
  group: GROUP,
  dryRun: "plan",
  summary: "a terminal in a session (raw mode, resize); Ctrl-] detaches, attaching again replays its scrollback",
  description:
    "Without --term: the newest terminal still running, else a new one (the image's shell). The terminal outlives\n" +
    "the connection: detach with Ctrl-], or lose the network, and `devx session attach <id>` continues where it was.",
  examples: ["devx session attach my-repl", "devx session attach my-repl --new", "devx session attach my-repl --term 2"],
  options: v.object({
    id: idArg(),
    term: number("reattach this terminal (ids from the detach message)", { placeholder: "n", min: 0 }),
    new: flag("open a new terminal even if one is running"),
    server: server(),
  }),
  async run(opts, deps) {
    if (opts.dryRun) return planLine(deps, `attach to ${opts.term !== undefined ? `terminal ${opts.term}` : opts.new ? "a new terminal" : "the newest terminal"} of session ${opts.id}`, { attach: { session: opts.id, term: opts.term ?? null, new: opts.new }, server: await serverUrl(deps, opts.server) });
    if (opts.json) throw new UsageError("devx session attach is a terminal: --json does not apply", "use `devx session exec --json` for output as JSON");
    const { client } = await import("./context.ts");
    const { attachTerminal } = await import("../../../core/session/client.ts");
    const c = await client(deps, opts.server);
    const stdin = process.stdin;
    const stdout = process.stdout;
    const tty = stdin.isTTY === true;
    const size = () => ({ cols: stdout.columns || 80, rows: stdout.rows || 24 });
    if (tty) stdin.setRawMode(true);
    try {
      const end = await attachTerminal(
        c,
        opts.id,
        {
          ...size(),
          onInput(cb) {
            const f = (b: Buffer) => cb(new Uint8Array(b));
            stdin.on("data", f);
            stdin.resume();
            return () => {
              stdin.off("data", f);
              stdin.pause();
            };
          },
          onResize(cb) {
            const f = () => cb(size().cols, size().rows);
            stdout.on("resize", f);
            return () => void stdout.off("resize", f);
          },
          write: (b) => void stdout.write(b),
        },
        { term: opts.term, fresh: opts.new },
      );
      if (tty) stdin.setRawMode(false);
      if (end.detached) {
        deps.io.err.write(`\r\ndetached from terminal ${end.term} of ${opts.id} (it keeps running): devx session attach ${opts.id} --term ${end.term}\r\n`);
        return 0;
      }
      deps.io.err.write(`\r\nterminal ${end.term} of ${opts.id} exited${end.exit.code !== null ? ` (${end.exit.code})` : ` (${end.exit.signal})`}\r\n`);
      return end.exit.code ?? 128 + 1;
    } finally {
      if (tty) stdin.setRawMode(false);
    }
  },
});
