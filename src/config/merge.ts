import { ConfigErrors } from "./yaml.ts";

/**
 * Merge rules (documented in docs/config.md):
 * - maps merge key by key, the overlay winning;
 * - `services`, `tunnels` (by `name`) and `databases` (by `name`, else `engine`) merge item by item:
 *   an item with the same name is merged as a map, a new name is appended in order;
 * - every other list, and every scalar, is replaced by the overlay's.
 * Two included files that define the same named item or set the same scalar differently conflict;
 * the including file itself may override anything its includes define.
 */
const NAMED_LISTS: Record<string, (item: Record<string, unknown>) => string> = {
  services: (i) => String(i.name),
  tunnels: (i) => String(i.name),
  databases: (i) => String(i.name ?? i.engine),
};

const isPlain = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

export function overlay(base: unknown, top: unknown, key?: string): unknown {
  if (top === undefined) return base;
  if (key && NAMED_LISTS[key] && Array.isArray(base) && Array.isArray(top)) {
    const id = NAMED_LISTS[key];
    const out = base.map((x) => ({ ...(x as Record<string, unknown>) }));
    for (const item of top as Record<string, unknown>[]) {
      const i = out.findIndex((x) => id(x) === id(item));
      if (i >= 0) out[i] = overlay(out[i], item) as Record<string, unknown>;
      else out.push(item);
    }
    return out;
  }
  if (isPlain(base) && isPlain(top)) {
    const out: Record<string, unknown> = { ...base };
    for (const [k, v] of Object.entries(top)) out[k] = overlay(base[k], v, k);
    return out;
  }
  return top;
}

/** Where each named item or scalar path came from, to name both files in a conflict. */
export type Origins = Map<string, string>;

function collectOrigins(config: Record<string, unknown>, file: string, prefix = "", into: Origins = new Map()): Origins {
  for (const [k, v] of Object.entries(config)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (!prefix && NAMED_LISTS[k] && Array.isArray(v)) {
      for (const item of v) into.set(`${k}[${NAMED_LISTS[k](item as Record<string, unknown>)}]`, file);
    } else if (isPlain(v)) collectOrigins(v, file, path, into);
    else into.set(path, file);
  }
  return into;
}

/** `where(file, path)` positions an origin path in a file ("a.yaml:3:5") for the conflict message. */
export function mergeIncludes<T>(parts: Array<{ config: T; origins: Origins; file: string }>, where: (file: string, path: string) => string): { config: T; origins: Origins } {
  let config: unknown = {};
  const origins: Origins = new Map();
  for (const part of parts) {
    const { include: _i, ...own } = part.config as Record<string, unknown>;
    const mine = collectOrigins(own, part.file);
    for (const [path, file] of mine) {
      const prev = origins.get(path);
      if (prev && prev !== file) {
        const scalar = !path.includes("[");
        if (scalar && JSON.stringify(get(config, path)) === JSON.stringify(get(own, path))) continue;
        throw new ConfigErrors([`${where(file, path)} ${path} is defined in both ${where(prev, path)} and here`], "define it in one included file, or override it in the including devx.yaml");
      }
      origins.set(path, file);
    }
    config = overlay(config, own);
  }
  return { config: config as T, origins };
}

function get(obj: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((o, k) => (isPlain(o) ? o[k] : undefined), obj);
}
