import * as v from "valibot";
import type { Deps } from "./deps.ts";

/**
 * Building blocks for command modules. A command's options and positional args are one valibot
 * object schema; each field carries `devx` metadata (kind, short flag, placeholder, description) so
 * that help, completion, parsing and validation all come from the same schema.
 */
export interface FieldMeta {
  kind: "flag" | "option" | "list" | "number" | "arg";
  description: string;
  short?: string;
  placeholder?: string;
  /** positional: collects every remaining word (must be the last arg) */
  variadic?: boolean;
  required?: boolean;
  /** allowed values, shown in help and completion */
  choices?: readonly string[];
  /** what shell completion offers for the value (read from local state, never the network) */
  complete?: Completion;
}

/** Dynamic completion sources (src/cli/complete.ts). */
export type Completion = "files" | "databases" | "db-engines" | "checkpoints" | "db-snapshots" | "nodes" | "profiles";

type Actions<T> = v.PipeItem<T, T, v.BaseIssue<unknown>>[];

const meta = <T>(m: FieldMeta) => v.metadata<T, { readonly devx: FieldMeta }>({ devx: m });

export function flag(description: string, opts: { short?: string } = {}) {
  return v.optional(v.pipe(v.boolean(), meta<boolean>({ kind: "flag", description, ...opts })), false);
}

export function option(description: string, opts: { short?: string; placeholder?: string; actions?: Actions<string>; complete?: Completion } = {}) {
  return v.optional(v.pipe(v.string(), ...(opts.actions ?? []), meta<string>({ kind: "option", description, short: opts.short, placeholder: opts.placeholder, complete: opts.complete })));
}

export function optionWithDefault(description: string, dflt: string, opts: { short?: string; placeholder?: string; actions?: Actions<string> } = {}) {
  return v.optional(v.pipe(v.string(), ...(opts.actions ?? []), meta<string>({ kind: "option", description, short: opts.short, placeholder: opts.placeholder })), dflt);
}

export function choice<const T extends readonly [string, ...string[]]>(description: string, choices: T, opts: { short?: string } = {}) {
  return v.optional(v.pipe(v.picklist(choices, `expected one of ${choices.join(", ")}`), meta<T[number]>({ kind: "option", description, choices, short: opts.short })));
}

export function list(description: string, opts: { short?: string; placeholder?: string } = {}) {
  return v.optional(v.pipe(v.array(v.string()), meta<string[]>({ kind: "list", description, ...opts })), []);
}

export function number(description: string, opts: { short?: string; placeholder?: string; min?: number; max?: number; default?: number } = {}) {
  const checks: v.PipeItem<number, number, v.BaseIssue<unknown>>[] = [v.integer("expected a whole number")];
  if (opts.min !== undefined) checks.push(v.minValue(opts.min, `expected at least ${opts.min}`));
  if (opts.max !== undefined) checks.push(v.maxValue(opts.max, `expected at most ${opts.max}`));
  const inner = v.pipe(v.number(), ...checks, meta<number>({ kind: "number", description, short: opts.short, placeholder: opts.placeholder }));
  return opts.default === undefined ? v.optional(inner) : v.optional(inner, opts.default);
}

export function arg(description: string, opts: { placeholder?: string; actions?: Actions<string>; complete?: Completion; choices?: readonly string[] } = {}) {
  return v.pipe(v.string(), ...(opts.actions ?? []), meta<string>({ kind: "arg", description, required: true, placeholder: opts.placeholder, complete: opts.complete, choices: opts.choices }));
}

export function optionalArg(description: string, opts: { placeholder?: string; complete?: Completion } = {}) {
  return v.optional(v.pipe(v.string(), meta<string>({ kind: "arg", description, required: false, placeholder: opts.placeholder, complete: opts.complete })));
}

export function variadicArg(description: string, opts: { placeholder?: string; required?: boolean; complete?: Completion } = {}) {
  return v.optional(v.pipe(v.array(v.string()), meta<string[]>({ kind: "arg", description, variadic: true, required: opts.required ?? false, placeholder: opts.placeholder, complete: opts.complete })), []);
}

/** Options every command accepts. */
export const globalOptions = v.object({
  json: flag("print machine-readable JSON on stdout"),
  yes: flag("answer yes to every confirmation (needed without a TTY)", { short: "y" }),
  dryRun: flag("print the plan and change nothing"),
  debug: flag("show debug output and stack traces"),
  noColor: flag("disable colours (also NO_COLOR=1)"),
  file: option("path to devx.yaml (default: found by walking up from the working directory)", { short: "f", placeholder: "devx.yaml", complete: "files" }),
  profile: option("apply a profile from devx.yaml", { placeholder: "name", complete: "profiles" }),
  help: flag("show help for this command", { short: "h" }),
});

export type GlobalOptions = v.InferOutput<typeof globalOptions>;

export type Group =
  | "Local infrastructure"
  | "Kubernetes & hybrid"
  | "Networking & edge"
  | "Orchestration & state"
  | "Testing & telemetry"
  | "Pipelines & CI/CD"
  | "Help & setup";

export const GROUP_ORDER: Group[] = [
  "Local infrastructure",
  "Kubernetes & hybrid",
  "Networking & edge",
  "Orchestration & state",
  "Testing & telemetry",
  "Pipelines & CI/CD",
  "Help & setup",
];

type AnyObjectSchema = v.ObjectSchema<v.ObjectEntries, undefined>;

export interface Command<S extends AnyObjectSchema = AnyObjectSchema> {
  /** words after `devx`, e.g. ["state", "share"] */
  path: string[];
  group: Group;
  summary: string;
  /** longer help text, shown by `devx help <command>` */
  description?: string;
  examples?: string[];
  options: S;
  /** internal roles (agent, runner) that are not listed in help */
  hidden?: boolean;
  /**
   * What `--dry-run` does. "plan": the command prints what it would do and changes nothing (it reads
   * `dryRun`); "read-only": it never changes anything, so it runs as usual; "unsupported": it refuses
   * --dry-run with a usage error rather than act. Required, so a new command has to decide.
   */
  dryRun: "plan" | "read-only" | "unsupported";
  run(opts: v.InferOutput<S> & GlobalOptions, deps: Deps): Promise<number | void>;
}

export function defineCommand<S extends AnyObjectSchema>(cmd: Command<S>): Command<S> {
  return cmd;
}

/** The devx metadata of a schema field, unwrapping optional. */
export function fieldMeta(schema: v.GenericSchema): { meta: FieldMeta; base: string; defaultValue: unknown } | undefined {
  let s = schema as unknown as { type: string; wrapped?: unknown; default?: unknown; pipe?: { type: string; metadata?: { devx?: FieldMeta } }[] };
  let defaultValue: unknown;
  if (s.type === "optional") {
    defaultValue = s.default;
    s = s.wrapped as typeof s;
  }
  const m = s.pipe?.find((p) => p.type === "metadata")?.metadata?.devx;
  if (!m) return undefined;
  const base = s.pipe?.[0]?.type ?? s.type;
  return { meta: m, base, defaultValue };
}

export const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
