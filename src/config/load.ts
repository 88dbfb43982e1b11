import { realpath, stat } from "node:fs/promises";
import { dirname, join, resolve, isAbsolute } from "node:path";
import { ConfigError, NotFoundError } from "../errors.ts";
import { closest } from "../text/suggest.ts";
import { configSchema, userConfigSchema, type DevxConfig, type UserConfig } from "./schema.ts";
import { overlay, mergeIncludes, type Origins } from "./merge.ts";
import { MAX_CONFIG_BYTES, readConfigFile, type ReadRefusal } from "./read.ts";
import { ConfigErrors, parseYaml, shownPath, type KeyPath, type ParsedYaml } from "./yaml.ts";

export { ConfigErrors, keyPath, parseYaml } from "./yaml.ts";

export const CONFIG_NAMES = ["devx.yaml", "devx.yml"];
const MAX_INCLUDE_DEPTH = 8;
/** Files one load may read in all (the root devx.yaml and every include). */
const MAX_FILES = 64;
const MAX_TOTAL_BYTES = 4 * MAX_CONFIG_BYTES;

/** Where an item of services/databases/tunnels (or one of its keys) is written: "devx.yaml:12:5". */
export type ItemLocator = (section: "services" | "databases" | "tunnels", name: string, key?: string, nth?: number) => string | undefined;

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
  /** positions of items in whichever file defines them (profile, root file, includes) */
  locate?: ItemLocator;
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

interface LoadContext {
  cwd: string;
  /** real directory of the root devx.yaml */
  root: string;
  /** real directories include: may read: the project, then the user's include_allow */
  within: string[];
  files: string[];
  parsed: Map<string, ParsedYaml<DevxConfig>>;
  bytes: number;
  /** SHA-256 of the root file's bytes */
  sha256?: string;
}

const ALLOW_HINT = "includes must be files inside the project (the directory of the root devx.yaml); to share files from elsewhere, list their directory under include_allow in your user config (~/.config/devx/config.yaml)";

function refusal(r: ReadRefusal, entry: string): { message: string; hint: string } {
  switch (r.reason) {
    case "missing":
      return { message: `"${entry}" does not exist`, hint: "check the path: it is relative to the file that includes it" };
    case "outside":
      return { message: `"${entry}" resolves to ${r.real}, outside the project and include_allow`, hint: ALLOW_HINT };
    case "not-a-file":
      return { message: `"${entry}" is ${r.type}, not a regular file`, hint: "include a regular YAML file" };
    case "too-large":
      return { message: `"${entry}" is larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB (${r.size} bytes or more)`, hint: "a devx.yaml or include is a few KiB: check the path" };
    case "unreadable":
      return { message: `cannot read "${entry}": ${r.detail}`, hint: "check the file's permissions" };
  }
}

async function loadFile(
  path: string,
  ctx: LoadContext,
  stack: string[],
  from?: { at: string; entry: string },
): Promise<{ config: DevxConfig; origins: Origins }> {
  const refuse = (message: string, hint: string): never => {
    if (from) throw new ConfigErrors([`${from.at} ${message}`], hint);
    throw new ConfigError(message, hint);
  };
  const r = await readConfigFile(path, { within: from ? ctx.within : undefined });
  if (!r.ok) {
    if (!from && r.reason === "missing") throw new NotFoundError(`${shownPath(path, ctx.cwd)} does not exist`, "check the path given to -f/--file");
    const { message, hint } = refusal(r, from?.entry ?? shownPath(path, ctx.cwd));
    // a file with content has a first line to point at; a FIFO or a directory has none
    if (!from && r.reason === "too-large") throw new ConfigErrors([`${shownPath(path, ctx.cwd)}:1:1 ${message}`], hint);
    return refuse(message, hint);
  }
  if (stack.includes(r.real)) {
    const chain = [...stack.slice(stack.indexOf(r.real)), r.real].map((p) => shownPath(p, ctx.cwd)).join(" → ");
    return refuse(`include cycle: ${chain}`, "remove one of these include: entries");
  }
  if (stack.length > MAX_INCLUDE_DEPTH) return refuse(`includes nested deeper than ${MAX_INCLUDE_DEPTH} levels`, "flatten the include chain");
  if (ctx.files.length >= MAX_FILES) return refuse(`more than ${MAX_FILES} files included in all`, "merge some of the included files");
  ctx.bytes += r.bytes;
  ctx.sha256 ??= r.sha256;
  if (ctx.bytes > MAX_TOTAL_BYTES) return refuse(`the included files add up to more than ${MAX_TOTAL_BYTES / 1024 / 1024} MiB`, "a devx.yaml and its includes are a few KiB: check the include: entries");

  const parsed = parseYaml(r.text, path, configSchema, ctx.cwd);
  ctx.files.push(path);
  ctx.parsed.set(path, parsed);
  const config = parsed.value;
  const parts: Array<{ config: DevxConfig; origins: Origins; file: string }> = [];
  for (const [i, inc] of (config.include ?? []).entries()) {
    const at = parsed.locate(["include", i]) ?? `${shownPath(path, ctx.cwd)}:1:1`;
    const incPath = isAbsolute(inc) ? inc : resolve(dirname(path), inc);
    const loaded = await loadFile(incPath, ctx, [...stack, r.real], { at: `${at} include[${i}]:`, entry: inc });
    parts.push({ ...loaded, file: incPath });
  }
  const base = mergeIncludes(parts, (file, item) => whereIn(ctx, file, item));
  const { include: _ignored, ...own } = config;
  return { config: overlay(base.config, own) as DevxConfig, origins: base.origins };
}

/** "a.yaml:3:5" for an origin path ("services[api]", "env.A") in one file, else the file's name. */
function whereIn(ctx: LoadContext, file: string, item: string): string {
  const p = ctx.parsed.get(file);
  const named = /^(services|tunnels|databases)\[(.*)\]$/.exec(item);
  let keys: KeyPath = item.split(".");
  if (named) {
    const list = (p?.value as Record<string, Array<{ name?: string; engine?: string }> | undefined> | undefined)?.[named[1]!] ?? [];
    const i = list.findIndex((x) => (x.name ?? x.engine) === named[2]);
    keys = i >= 0 ? [named[1]!, i] : [named[1]!];
  }
  return p?.locate(keys, { key: !named }) ?? shownPath(file, ctx.cwd);
}

function itemLocator(ctx: LoadContext, main: string, profile: string | undefined): ItemLocator {
  const layers: Array<{ parsed: ParsedYaml<DevxConfig>; prefix: KeyPath }> = [];
  const root = ctx.parsed.get(main)!;
  if (profile) layers.push({ parsed: root, prefix: ["profiles", profile] });
  layers.push({ parsed: root, prefix: [] });
  for (const f of ctx.files.slice(1).reverse()) layers.push({ parsed: ctx.parsed.get(f)!, prefix: [] });
  return (section, name, key, nth = 0) => {
    let first: string | undefined;
    for (const { parsed, prefix } of layers) {
      let v: unknown = parsed.value;
      for (const k of [...prefix, section]) v = (v as Record<string, unknown> | undefined)?.[k as string];
      if (!Array.isArray(v)) continue;
      const matching = v.flatMap((x: { name?: string; engine?: string }, j) => ((x.name ?? (section === "databases" ? x.engine : undefined)) === name ? [j] : []));
      const i = matching[Math.min(nth, matching.length - 1)] ?? -1;
      if (i < 0) continue;
      const item = [...prefix, section, i];
      if (!key) return parsed.locate(item);
      const at = (v[i] as Record<string, unknown>)[key] !== undefined ? parsed.locate([...item, key], { key: true }) : undefined;
      if (at) return at;
      first ??= parsed.locate(item);
    }
    return first;
  };
}

export interface LoadOptions {
  profile?: string;
  cwd?: string;
  /** directories outside the project that include: may read (the user config's include_allow) */
  includeAllow?: string[];
}

export async function loadConfig(path: string, opts: LoadOptions = {}): Promise<LoadedConfig> {
  const cwd = opts.cwd ?? process.cwd();
  const abs = resolve(cwd, path);
  const root = await realpath(dirname(abs)).catch(() => dirname(abs));
  const allow = await Promise.all((opts.includeAllow ?? []).map((d) => realpath(d).catch(() => undefined)));
  const ctx: LoadContext = { cwd, root, within: [root, ...allow.filter((d): d is string => !!d)], files: [], parsed: new Map(), bytes: 0 };
  const { config: withIncludes } = await loadFile(abs, ctx, []);
  let config = withIncludes;
  if (opts.profile) {
    const profiles = withIncludes.profiles ?? {};
    const p = profiles[opts.profile];
    if (!p) {
      const guess = closest(opts.profile, Object.keys(profiles));
      const at = ctx.parsed.get(abs)?.locate(["profiles"], { key: true }) ?? `${shownPath(abs, cwd)}:1:1`;
      throw new ConfigErrors(
        [`${at} profile "${opts.profile}" is not defined (--profile, DEVX_PROFILE or profile: in the user config asked for it)`],
        guess ? `did you mean "${guess}"?` : `defined profiles: ${Object.keys(profiles).join(", ") || "none"}`,
      );
    }
    config = overlay(withIncludes, p) as DevxConfig;
  }
  return { path: abs, dir: dirname(abs), config, files: ctx.files, profile: opts.profile, sha256: ctx.sha256!, locate: itemLocator(ctx, abs, opts.profile) };
}

export async function loadUserConfig(path: string): Promise<UserConfig> {
  const r = await readConfigFile(path);
  if (!r.ok) {
    if (r.reason === "missing") return {};
    throw new ConfigError(`${path}: ${refusal(r, path).message}`, "fix or remove your user config");
  }
  return parseYaml(r.text, path, userConfigSchema).value;
}
