import * as v from "valibot";
import { UsageError } from "../errors.ts";
import { fieldMeta, globalOptions, kebab, type Command, type FieldMeta, type GlobalOptions } from "./define.ts";
import { closest } from "../text/suggest.ts";

interface Field {
  key: string;
  name: string;
  meta: FieldMeta;
  base: string;
}

function fieldsOf(schema: v.ObjectSchema<v.ObjectEntries, undefined>): Field[] {
  const out: Field[] = [];
  for (const [key, s] of Object.entries(schema.entries)) {
    const f = fieldMeta(s as v.GenericSchema);
    if (f) out.push({ key, name: kebab(key), meta: f.meta, base: f.base });
  }
  return out;
}

export function commandFields(cmd: Command): { options: Field[]; args: Field[]; globals: Field[] } {
  const own = fieldsOf(cmd.options);
  return {
    options: own.filter((f) => f.meta.kind !== "arg"),
    args: own.filter((f) => f.meta.kind === "arg"),
    globals: fieldsOf(globalOptions),
  };
}

/**
 * Parses the words after the command path into the command's options object and validates it.
 * Accepts `--name value`, `--name=value`, `-s value`, grouped short flags `-xy`, repeated list
 * options, and `--` after which every word is positional.
 */
export function parseArgs(cmd: Command, words: string[]): Record<string, unknown> {
  const { options, args, globals } = commandFields(cmd);
  const all = [...options, ...globals];
  const byName = new Map(all.map((f) => [f.name, f]));
  // one letter, one meaning: the registry test keeps commands off the global short flags
  const byShort = new Map(all.filter((f) => f.meta.short).map((f) => [f.meta.short!, f]));
  const raw: Record<string, unknown> = {};
  const positionals: string[] = [];
  const display = ["devx", ...cmd.path].join(" ");

  const set = (f: Field, value: string | true, shown: string) => {
    if (f.meta.kind === "flag") {
      if (value !== true) throw new UsageError(`${shown} does not take a value`, `run \`${display} --help\``);
      raw[f.key] = true;
      return;
    }
    if (value === true) throw new UsageError(`${shown} needs a value${f.meta.placeholder ? ` (${f.meta.placeholder})` : ""}`, `run \`${display} --help\``);
    if (f.meta.kind === "list") (raw[f.key] ??= [] as string[]) && (raw[f.key] as string[]).push(value);
    else if (f.meta.kind === "number") {
      const n = Number(value);
      if (value.trim() === "" || !Number.isFinite(n)) throw new UsageError(`${shown}: expected a number, got "${value}"`, `run \`${display} --help\``);
      raw[f.key] = n;
    } else raw[f.key] = value;
  };

  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === "--") {
      positionals.push(...words.slice(i + 1));
      break;
    }
    if (w.startsWith("--") && w.length > 2) {
      const eq = w.indexOf("=");
      const name = eq >= 0 ? w.slice(2, eq) : w.slice(2);
      const f = byName.get(name);
      if (!f) {
        const hint = closest(name, byName.keys());
        throw new UsageError(`unknown flag --${name} for \`${display}\``, hint ? `did you mean --${hint}?` : `run \`${display} --help\` to see its flags`);
      }
      if (eq >= 0) set(f, w.slice(eq + 1), `--${name}`);
      else if (f.meta.kind === "flag") set(f, true, `--${name}`);
      else {
        const next = words[i + 1];
        if (next === undefined) set(f, true, `--${name}`);
        else {
          set(f, next, `--${name}`);
          i++;
        }
      }
      continue;
    }
    if (w.startsWith("-") && w.length > 1 && !/^-\d/.test(w)) {
      const letters = w.slice(1);
      for (let j = 0; j < letters.length; j++) {
        const ch = letters[j]!;
        const f = byShort.get(ch);
        if (!f) {
          throw new UsageError(`unknown flag -${ch} for \`${display}\``, `run \`${display} --help\` to see its flags`);
        }
        if (f.meta.kind === "flag") {
          set(f, true, `-${ch}`);
          continue;
        }
        const rest = letters.slice(j + 1);
        if (rest) set(f, rest.startsWith("=") ? rest.slice(1) : rest, `-${ch}`);
        else {
          const next = words[i + 1];
          if (next === undefined) set(f, true, `-${ch}`);
          else {
            set(f, next, `-${ch}`);
            i++;
          }
        }
        break;
      }
      continue;
    }
    positionals.push(w);
  }

  if (raw.help) return raw;

  for (const a of args) {
    if (a.meta.variadic) {
      raw[a.key] = positionals.splice(0);
      if (a.meta.required && (raw[a.key] as string[]).length === 0)
        throw new UsageError(`missing <${a.meta.placeholder ?? a.name}...> for \`${display}\``, `usage: ${usageLine(cmd)}`);
      continue;
    }
    const value = positionals.shift();
    if (value === undefined) {
      if (a.meta.required) throw new UsageError(`missing <${a.meta.placeholder ?? a.name}> for \`${display}\``, `usage: ${usageLine(cmd)}`);
      continue;
    }
    raw[a.key] = value;
  }
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}" for \`${display}\``, `usage: ${usageLine(cmd)}`);
  }

  const schema = v.object({ ...globalOptions.entries, ...cmd.options.entries });
  const result = v.safeParse(schema, raw);
  if (!result.success) {
    const issue = result.issues[0];
    const key = issue.path?.[0]?.key as string | undefined;
    const f = key ? [...all, ...args].find((x) => x.key === key) : undefined;
    const label = f ? (f.meta.kind === "arg" ? `<${f.meta.placeholder ?? f.name}>` : `--${f.name}`) : "arguments";
    const got = issue.input === undefined ? "" : `, got ${JSON.stringify(issue.input)}`;
    const msg = issue.message.startsWith("Invalid") ? `expected ${issue.expected}${got}` : `${issue.message}${got}`;
    throw new UsageError(`${label}: ${msg}`, `run \`${display} --help\``);
  }
  return result.output as Record<string, unknown>;
}

/**
 * The global flags given without a command (`devx -f other/devx.yaml`, `devx db --json`): parsed
 * with the same rules, so an unknown one is an unknown flag with a did-you-mean.
 */
export function parseGlobals(words: string[], prefix: string[]): GlobalOptions {
  const bare = { path: prefix, group: "Help & setup", summary: "", dryRun: "read-only", options: v.object({}), run: async () => {} } as unknown as Command;
  return parseArgs(bare, words) as GlobalOptions;
}

export function usageLine(cmd: Command): string {
  const { args } = commandFields(cmd);
  const parts = ["devx", ...cmd.path];
  const hasOptions = Object.keys(cmd.options.entries).some((k) => fieldMeta(cmd.options.entries[k] as v.GenericSchema)?.meta.kind !== "arg");
  if (hasOptions) parts.push("[flags]");
  for (const a of args) {
    const n = a.meta.placeholder ?? a.name;
    if (a.meta.variadic) parts.push(a.meta.required ? `<${n}...>` : `[${n}...]`);
    else parts.push(a.meta.required ? `<${n}>` : `[${n}]`);
  }
  return parts.join(" ");
}
