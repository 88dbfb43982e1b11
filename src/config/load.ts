import * as v from "valibot";
import { plural } from "../events/format.ts";
import { LineCounter, parseDocument, isMap, isPair, isScalar, type Document, type Node } from "yaml";
import { readFile, stat } from "node:fs/promises";
import { dirname, join, relative, resolve, isAbsolute } from "node:path";
import { createHash } from "node:crypto";
import { ConfigError, NotFoundError } from "../errors.ts";
import { closest } from "../cli/suggest.ts";
import { configSchema, userConfigSchema, type DevxConfig, type UserConfig } from "./schema.ts";
import { overlay, mergeIncludes, type Origins } from "./merge.ts";

export const CONFIG_NAMES = ["devx.yaml", "devx.yml"];
const MAX_INCLUDE_DEPTH = 8;

/** A ConfigError that carries every problem found, for `devx config validate`. */
export class ConfigErrors extends ConfigError {
  constructor(readonly problems: string[], hint: string) {
    super(problems[0] ?? "invalid config", hint);
  }
}

export interface LoadedConfig {
  /** the devx.yaml that was asked for */
  path: string;
  dir: string;
  /** effective config: includes merged, profile applied */
  config: DevxConfig;
  /** every file read, the main one first */
  files: string[];
  profile?: string;
  /** SHA-256 of the main file's bytes */
  sha256: string;
}

/** Walk up from `cwd` to the first devx.yaml. */
export async function findConfigFile(cwd: string): Promise<string | undefined> {
  let dir = resolve(cwd);
  for (;;) {
    for (const n of CONFIG_NAMES) {
      const p = join(dir, n);
      if (await stat(p).then((s) => s.isFile(), () => false)) return p;
    }
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

function position(doc: Document, lc: LineCounter, keys: (string | number)[], unknownKey: boolean): { line: number; col: number } {
  const at = (offset: number) => lc.linePos(offset);
  if (unknownKey) {
    const parent = doc.getIn(keys.slice(0, -1), true) as Node | undefined;
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === keys[keys.length - 1]);
      const k = pair?.key as Node | undefined;
      if (k?.range) return at(k.range[0]);
    }
  }
  for (let n = keys.length; n >= 0; n--) {
    const node = (n === 0 ? doc.contents : doc.getIn(keys.slice(0, n), true)) as Node | undefined | null;
    if (node && node.range) return at(node.range[0]);
  }
  return { line: 1, col: 1 };
}

export function keyPath(keys: (string | number)[]): string {
  return keys.map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? k : `.${k}`)).join("");
}

/** The schema that validates the value at `keys`, to suggest keys it would accept. */
function schemaAt(schema: unknown, keys: (string | number)[]): unknown {
  let s = schema as Record<string, unknown> | undefined;
  for (const k of keys) {
    while (s && (s.type === "optional" || s.type === "nullable")) s = s.wrapped as typeof s;
    if (!s) return undefined;
    if (s.type === "strict_object" || s.type === "object") s = (s.entries as Record<string, typeof s>)[k];
    else if (s.type === "array") s = s.item as typeof s;
    else if (s.type === "record") s = s.value as typeof s;
    else if (s.type === "union") s = (s.options as (typeof s)[]).map((o) => schemaAt(o, [k])).find(Boolean) as typeof s;
    else return undefined;
  }
  while (s && (s.type === "optional" || s.type === "nullable")) s = s.wrapped as typeof s;
  return s;
}

function describeIssue(issue: v.BaseIssue<unknown>, schema: unknown): { keys: (string | number)[]; message: string; unknownKey: boolean } {
  const keys = (issue.path ?? []).map((p) => p.key as string | number);
  if (issue.expected === "never" && keys.length > 0) {
    const key = String(keys[keys.length - 1]);
    const parent = schemaAt(schema, keys.slice(0, -1)) as { entries?: Record<string, unknown> } | undefined;
    const guess = parent?.entries ? closest(key, Object.keys(parent.entries)) : undefined;
    return { keys, unknownKey: true, message: `unknown key "${key}"${guess ? `; did you mean "${guess}"?` : ""}` };
  }
  if (issue.received === "undefined" && issue.input === undefined) {
    return { keys, unknownKey: false, message: `missing required key` };
  }
  const got = `, got ${JSON.stringify(issue.input) ?? String(issue.input)}`;
  const message = issue.message.startsWith("Invalid") ? `expected ${issue.expected ?? "a different value"}${got}` : `${issue.message}${got}`;
  return { keys, unknownKey: false, message };
}

/** Parse and validate one YAML file against a schema; every problem carries file:line:col and key path. */
export function parseYaml<T>(text: string, file: string, schema: v.GenericSchema<unknown, T>, cwd = process.cwd()): T {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const shown = relative(cwd, file) || file;
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const p = lc.linePos(e.pos[0]);
      return `${shown}:${p.line}:${p.col} ${e.message.split("\n")[0]}`;
    });
    throw new ConfigErrors(problems, "fix the YAML syntax at that position");
  }
  const data = doc.toJS() ?? {};
  const result = v.safeParse(schema, data, { abortPipeEarly: true });
  if (result.success) return result.output;
  const problems = result.issues.map((issue) => {
    const d = describeIssue(issue, schema);
    const p = position(doc, lc, d.keys, d.unknownKey);
    return `${shown}:${p.line}:${p.col} ${d.keys.length ? `${keyPath(d.keys)}: ` : ""}${d.message}`;
  });
  throw new ConfigErrors(problems, problems.length > 1 ? `${plural(problems.length - 1, "more problem")}: run \`devx config validate\` to list them all` : "fix it, then run `devx config validate`");
}

async function readConfigFile(path: string, cwd: string): Promise<{ config: DevxConfig; text: string }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new NotFoundError(`${relative(cwd, path) || path} does not exist`, "check the path given to -f/--file or in include:");
    throw new ConfigError(`cannot read ${path}: ${(e as Error).message}`, "check the file's permissions");
  }
  return { config: parseYaml(text, path, configSchema, cwd), text };
}

async function loadWithIncludes(path: string, cwd: string, stack: string[], files: string[]): Promise<{ config: DevxConfig; origins: Origins }> {
  if (stack.includes(path)) {
    const chain = [...stack.slice(stack.indexOf(path)), path].map((p) => relative(cwd, p) || p).join(" → ");
    throw new ConfigError(`include cycle: ${chain}`, "remove one of these include: entries");
  }
  if (stack.length > MAX_INCLUDE_DEPTH) throw new ConfigError(`includes nested deeper than ${MAX_INCLUDE_DEPTH} levels at ${relative(cwd, path)}`, "flatten the include chain");
  const { config } = await readConfigFile(path, cwd);
  files.push(path);
  const parts: Array<{ config: DevxConfig; origins: Origins; file: string }> = [];
  for (const inc of config.include ?? []) {
    if (isAbsolute(inc)) throw new ConfigError(`${relative(cwd, path)}: include "${inc}" must be a relative path`, "write the path relative to the including file");
    const incPath = resolve(dirname(path), inc);
    parts.push({ ...(await loadWithIncludes(incPath, cwd, [...stack, path], files)), file: incPath });
  }
  const base = mergeIncludes(parts, (p) => relative(cwd, p) || p);
  const { include: _ignored, ...own } = config;
  const merged = overlay(base.config, own) as DevxConfig;
  return { config: merged, origins: base.origins };
}

export interface LoadOptions {
  profile?: string;
  cwd?: string;
}

export async function loadConfig(path: string, opts: LoadOptions = {}): Promise<LoadedConfig> {
  const cwd = opts.cwd ?? process.cwd();
  const abs = resolve(cwd, path);
  const files: string[] = [];
  const { config: withIncludes } = await loadWithIncludes(abs, cwd, [], files);
  let config = withIncludes;
  if (opts.profile) {
    const profiles = withIncludes.profiles ?? {};
    const p = profiles[opts.profile];
    if (!p) {
      const guess = closest(opts.profile, Object.keys(profiles));
      throw new ConfigError(
        `profile "${opts.profile}" is not defined in ${relative(cwd, abs)}`,
        guess ? `did you mean "${guess}"?` : `defined profiles: ${Object.keys(profiles).join(", ") || "none"}`,
      );
    }
    config = overlay(withIncludes, p) as DevxConfig;
  }
  const sha256 = createHash("sha256").update(await readFile(abs)).digest("hex");
  return { path: abs, dir: dirname(abs), config, files, profile: opts.profile, sha256 };
}

export async function loadUserConfig(path: string): Promise<UserConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw e;
  }
  return parseYaml(text, path, userConfigSchema);
}
