import { readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Deps } from "./deps.ts";
import type { Command, Completion, FieldMeta } from "./define.ts";
import { commandFields } from "./parse.ts";

/**
 * `devx __complete <words…>`: what the shell scripts (`devx completion bash|zsh|fish`) ask on Tab.
 * The words are those after `devx` up to the cursor, the last one being the word under it (maybe
 * empty). The answer is one candidate per line (`value<TAB>description`), then a directive line:
 * `:files` (let the shell complete file names), `:default` (its usual fallback) or `:none`.
 * Names come from local state only (devx.yaml, the state directory), so Tab never waits on a
 * container runtime, a cluster or the network.
 */
export interface Completions {
  items: Array<{ value: string; description?: string }>;
  directive: "files" | "default" | "none";
}

type Field = ReturnType<typeof commandFields>["options"][number];

const ENGINES = ["postgres", "redis", "mysql", "mongo"];

export async function complete(words: string[], commands: Command[], deps: Deps): Promise<Completions> {
  const cur = words.at(-1) ?? "";
  const done = words.slice(0, -1);
  const visible = commands.filter((c) => !c.hidden);
  const globals = commandFields(visible[0]!).globals;
  const fieldsOf = (cmd?: Command): Field[] => (cmd ? [...commandFields(cmd).options, ...globals] : globals);

  // walk the finished words as the parser would: flags (with their values), path words, positionals
  let path: string[] = [];
  let cmd: Command | undefined;
  const positionals: string[] = [];
  let pending: Field | undefined;
  let afterDashes = false;
  let help = false;
  for (const w of done) {
    if (pending) {
      pending = undefined;
      continue;
    }
    if (afterDashes) {
      positionals.push(w);
      continue;
    }
    if (w === "--") {
      afterDashes = true;
      continue;
    }
    if (w.startsWith("-") && w.length > 1) {
      pending = valueFlag(w, fieldsOf(cmd).concat(cmd ? [] : fieldsUnder(visible, path)));
      continue;
    }
    if (!cmd && path.length === 0 && w === "help" && !help) {
      help = true;
      continue;
    }
    const next = [...path, w];
    if (!cmd && visible.some((c) => next.every((x, i) => c.path[i] === x))) {
      path = next;
      cmd = visible.find((c) => c.path.length === path.length && c.path.every((x, i) => x === path[i]));
      continue;
    }
    positionals.push(w);
  }

  // the value of a flag given as the previous word
  if (pending) return valuesFor(pending.meta, cur, deps);
  const eq = /^(--[a-z-]+)=(.*)$/.exec(cur);
  if (eq && !afterDashes) {
    const f = fieldsOf(cmd).find((x) => `--${x.name}` === eq[1]);
    if (f && f.meta.kind !== "flag") {
      const r = await valuesFor(f.meta, eq[2]!, deps);
      return { ...r, items: r.items.map((i) => ({ ...i, value: `${eq[1]}=${i.value}` })) };
    }
  }
  if (cur.startsWith("-") && !afterDashes) {
    const flags = fieldsOf(cmd).concat(cmd ? [] : fieldsUnder(visible, path));
    const items = unique(flags.filter((f) => !(f.name === "help" && help)).flatMap((f) => [{ value: `--${f.name}`, description: f.meta.description }, ...(f.meta.short && cur.length <= 2 ? [{ value: `-${f.meta.short}`, description: f.meta.description }] : [])]));
    return { items: items.filter((i) => i.value.startsWith(cur)), directive: "none" };
  }
  // a group, the root, or `help <path>`: the next path word
  if (!cmd) {
    const under = visible.filter((c) => path.every((x, i) => c.path[i] === x) && c.path.length > path.length);
    // a group is described by its commands: "db  spawn, ls, rm, restart, …"
    const describe = (w: string) => {
      const leaf = under.find((c) => c.path.length === path.length + 1 && c.path[path.length] === w);
      if (leaf) return leaf.summary;
      const subs = [...new Set(under.filter((c) => c.path[path.length] === w).map((c) => c.path[path.length + 1]!))];
      return subs.length > 4 ? `${subs.slice(0, 4).join(", ")}, …` : subs.join(", ");
    };
    const words = unique(under.map((c) => ({ value: c.path[path.length]!, description: describe(c.path[path.length]!) })));
    if (path.length === 0 && !help) words.push({ value: "help", description: "help for a command, or `help exit-codes`" });
    if (path.length === 0 && help) words.push({ value: "exit-codes", description: "the exit codes scripts can rely on" });
    return { items: words.filter((i) => i.value.startsWith(cur)), directive: "none" };
  }
  if (help) return { items: [], directive: "none" };
  // a positional of the command
  const args = commandFields(cmd).args;
  const arg = args[positionals.length] ?? (args.at(-1)?.meta.variadic ? args.at(-1) : undefined);
  if (!arg) return { items: [], directive: "none" };
  if (afterDashes || (arg.meta.variadic && !arg.meta.complete)) return { items: [], directive: "default" };
  const r = await valuesFor(arg.meta, cur, deps);
  // names already given are not offered again (devx logs api <TAB>)
  return arg.meta.variadic ? { ...r, items: r.items.filter((i) => !positionals.includes(i.value)) } : r;
}

/** The field a flag word names when it takes the next word as its value. */
function valueFlag(word: string, fields: Field[]): Field | undefined {
  if (word.startsWith("--")) {
    if (word.includes("=")) return undefined;
    const f = fields.find((x) => `--${x.name}` === word);
    return f && f.meta.kind !== "flag" ? f : undefined;
  }
  const letters = word.slice(1);
  for (let j = 0; j < letters.length; j++) {
    const f = fields.find((x) => x.meta.short === letters[j]);
    if (!f) return undefined;
    if (f.meta.kind !== "flag") return j === letters.length - 1 ? f : undefined;
  }
  return undefined;
}

function fieldsUnder(commands: Command[], path: string[]): Field[] {
  return commands.filter((c) => path.length > 0 && path.every((w, i) => c.path[i] === w)).flatMap((c) => commandFields(c).options);
}

function unique<T extends { value: string }>(items: T[]): T[] {
  const seen = new Set<string>();
  return items.filter((i) => !seen.has(i.value) && !!seen.add(i.value));
}

async function valuesFor(meta: FieldMeta, cur: string, deps: Deps): Promise<Completions> {
  if (meta.choices) return { items: meta.choices.filter((c) => c.startsWith(cur)).map((value) => ({ value })), directive: "none" };
  if (!meta.complete) return { items: [], directive: meta.kind === "arg" ? "none" : "default" };
  if (meta.complete === "files") return { items: [], directive: "files" };
  const names = await source(meta.complete, deps).catch(() => [] as Array<{ value: string; description?: string }>);
  return { items: unique(names).filter((n) => n.value.startsWith(cur)), directive: "none" };
}

async function source(kind: Exclude<Completion, "files">, deps: Deps): Promise<Array<{ value: string; description?: string }>> {
  const dirNames = async (dir: string) => (await readdir(dir, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory() && !e.name.startsWith(".")).map((e) => e.name).sort();
  switch (kind) {
    case "checkpoints":
      return (await dirNames(join(deps.paths.state, "checkpoints"))).map((value) => ({ value, description: "checkpoint" }));
    case "db-snapshots":
      return (await dirNames(join(deps.paths.state, "db-snapshots"))).map((value) => ({ value, description: "database snapshot" }));
    case "profiles": {
      const loaded = await deps.findConfig().catch(() => undefined);
      return Object.keys(loaded?.config.profiles ?? {}).map((value) => ({ value, description: "profile" }));
    }
    case "nodes": {
      const loaded = await deps.findConfig().catch(() => undefined);
      const c = loaded?.config;
      if (!c) return [];
      return [
        ...(c.services ?? []).map((s) => ({ value: s.name, description: "service" })),
        ...(c.databases ?? []).map((d) => ({ value: d.name ?? d.engine, description: `${d.engine} database` })),
        ...(c.tunnels ?? []).map((t) => ({ value: t.name, description: "tunnel" })),
      ];
    }
    case "databases":
    case "db-engines": {
      const loaded = await deps.findConfig().catch(() => undefined);
      const configured = (loaded?.config.databases ?? []).map((d) => ({ value: d.name ?? d.engine, description: `${d.engine} database in devx.yaml` }));
      // databases spawned by hand have their credentials under the state dir, per project
      const { projectName } = await import("../config/project.ts");
      const project = projectName(loaded, deps.cwd);
      const spawned = (await readdir(join(deps.paths.state, "db", project)).catch(() => [] as string[])).filter((f) => f.endsWith(".credentials.json")).map((f) => ({ value: f.slice(0, -".credentials.json".length), description: "database" }));
      const engines = kind === "db-engines" ? ENGINES.map((value) => ({ value, description: "engine" })) : [];
      return [...configured, ...spawned, ...engines];
    }
  }
}

/** The protocol's text: candidates, then the directive. */
export function formatCompletions(c: Completions): string {
  return [...c.items.map((i) => (i.description ? `${i.value}\t${i.description.replace(/\s+/g, " ")}` : i.value)), `:${c.directive}`].join("\n") + "\n";
}
