/**
 * The three patch types the API server accepts on these resources, with upstream semantics:
 * JSON merge patch (RFC 7386: maps merge, null deletes, lists replace), JSON patch (RFC 6902, `test`
 * included) and strategic merge patch (maps merge like merge patch — so a selector patch MERGES
 * with the old selector unless old keys are nulled or `$patch: replace` is given — and lists of
 * objects merge by their merge key).
 */
import { jsonEqual } from "./store.ts";

type Json = any;

export class PatchError extends Error {}

const isObj = (v: unknown): v is Record<string, Json> => typeof v === "object" && v !== null && !Array.isArray(v);

export function mergePatch(target: Json, patch: Json): Json {
  if (!isObj(patch)) return structuredClone(patch);
  const out: Record<string, Json> = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function unescape(token: string): string {
  return token.replace(/~1/g, "/").replace(/~0/g, "~");
}

function parsePointer(path: string): string[] {
  if (path === "") return [];
  if (!path.startsWith("/")) throw new PatchError(`invalid JSON pointer "${path}"`);
  return path.slice(1).split("/").map(unescape);
}

function resolveParent(doc: Json, tokens: string[], path: string): { parent: Json; key: string } {
  let cur = doc;
  for (const t of tokens.slice(0, -1)) {
    cur = Array.isArray(cur) ? cur[Number(t)] : isObj(cur) ? cur[t] : undefined;
    if (cur === undefined) throw new PatchError(`doc is missing path: "${path}"`);
  }
  return { parent: cur, key: tokens[tokens.length - 1]! };
}

function getAt(doc: Json, path: string): Json {
  let cur = doc;
  for (const t of parsePointer(path)) {
    cur = Array.isArray(cur) ? cur[Number(t)] : isObj(cur) ? cur[t] : undefined;
    if (cur === undefined) throw new PatchError(`doc is missing path: "${path}"`);
  }
  return cur;
}

function removeAt(doc: Json, path: string): Json {
  const { parent, key } = resolveParent(doc, parsePointer(path), path);
  if (Array.isArray(parent)) {
    const i = Number(key);
    if (!(i >= 0 && i < parent.length)) throw new PatchError(`doc is missing path: "${path}"`);
    return parent.splice(i, 1)[0];
  }
  if (!isObj(parent) || !Object.hasOwn(parent, key)) throw new PatchError(`doc is missing path: "${path}"`);
  const v = parent[key];
  delete parent[key];
  return v;
}

function addAt(doc: Json, path: string, value: Json, replace: boolean): Json {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return structuredClone(value);
  const { parent, key } = resolveParent(doc, tokens, path);
  if (Array.isArray(parent)) {
    const i = key === "-" ? parent.length : Number(key);
    if (!(i >= 0 && i <= parent.length) || (replace && i === parent.length)) throw new PatchError(`doc is missing path: "${path}"`);
    parent.splice(i, replace ? 1 : 0, structuredClone(value));
  } else if (isObj(parent)) {
    if (replace && !Object.hasOwn(parent, key)) throw new PatchError(`doc is missing path: "${path}"`);
    parent[key] = structuredClone(value);
  } else throw new PatchError(`doc is missing path: "${path}"`);
  return doc;
}

export function jsonPatch(target: Json, ops: Json): Json {
  if (!Array.isArray(ops)) throw new PatchError("json patch must be an array of operations");
  let doc = structuredClone(target);
  for (const op of ops) {
    const path = String(op?.path ?? "");
    switch (op?.op) {
      case "add": doc = addAt(doc, path, op.value, false); break;
      case "replace": doc = addAt(doc, path, op.value, true); break;
      case "remove": removeAt(doc, path); break;
      case "move": { const v = removeAt(doc, String(op.from)); doc = addAt(doc, path, v, false); break; }
      case "copy": doc = addAt(doc, path, getAt(doc, String(op.from)), false); break;
      case "test":
        if (!jsonEqual(getAt(doc, path), op.value)) throw new PatchError(`testing value ${path} failed`);
        break;
      default: throw new PatchError(`Unexpected kind: ${op?.op}`);
    }
  }
  return doc;
}

/**
 * Merge keys of object lists, by field name (upstream takes them from the Go struct tags; these are
 * the ones of the resources served here). Lists not named here are replaced whole.
 */
const MERGE_KEYS: Record<string, string> = {
  containers: "name", initContainers: "name", ephemeralContainers: "name", env: "name", volumes: "name",
  volumeMounts: "mountPath", imagePullSecrets: "name", conditions: "type", ownerReferences: "uid",
  secrets: "name", containerStatuses: "name", subsets: "", rules: "",
};

function mergeKeyFor(field: string, parentPath: string[], items: Json[]): string | undefined {
  if (field === "ports") {
    // Service ports merge by port number, container ports by containerPort.
    if (items.some((i) => isObj(i) && "containerPort" in i)) return "containerPort";
    return parentPath.includes("containers") ? "containerPort" : "port";
  }
  const k = MERGE_KEYS[field];
  return k ? k : undefined;
}

function strategicList(field: string, path: string[], target: Json[], patch: Json[]): Json[] {
  const key = mergeKeyFor(field, path, [...target, ...patch]);
  if (!key || !patch.every(isObj)) return structuredClone(patch.filter((p) => !(isObj(p) && p.$patch)));
  if (patch.some((p) => p.$patch === "replace")) return structuredClone(patch.filter((p) => p.$patch !== "replace"));
  const out = target.map((t) => structuredClone(t));
  for (const p of patch) {
    const idx = out.findIndex((t) => isObj(t) && t[key] === p[key]);
    if (p.$patch === "delete") {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = strategicMerge(out[idx], p, [...path, field]);
    else out.push(strategicMerge({}, p, [...path, field]));
  }
  return out;
}

export function strategicMerge(target: Json, patch: Json, path: string[] = []): Json {
  if (!isObj(patch)) return structuredClone(patch);
  if (patch.$patch === "replace") {
    const { $patch: _, ...rest } = patch;
    return structuredClone(rest);
  }
  if (patch.$patch === "delete") return undefined;
  const out: Record<string, Json> = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith("$setElementOrder/") || k === "$retainKeys" || k === "$patch") continue;
    if (k.startsWith("$deleteFromPrimitiveList/")) {
      const field = k.slice("$deleteFromPrimitiveList/".length);
      if (Array.isArray(out[field]) && Array.isArray(v)) out[field] = out[field].filter((x: Json) => !v.includes(x));
      continue;
    }
    if (v === null) delete out[k];
    else if (Array.isArray(v)) out[k] = strategicList(k, path, Array.isArray(out[k]) ? out[k] : [], v);
    else if (isObj(v)) {
      const merged = strategicMerge(out[k], v, [...path, k]);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    } else out[k] = v;
  }
  return out;
}

export const PATCH_TYPES = {
  "application/json-patch+json": jsonPatch,
  "application/merge-patch+json": mergePatch,
  "application/strategic-merge-patch+json": (t: Json, p: Json) => strategicMerge(t, p),
} as const;
