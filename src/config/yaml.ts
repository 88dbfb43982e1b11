import * as v from "valibot";
import { LineCounter, parseDocument, visit, isAlias, isMap, isPair, isScalar, isCollection, type Document, type Node } from "yaml";
import { relative } from "node:path";
import { ConfigError } from "../errors.ts";
import { closest } from "../text/suggest.ts";
import { describeSyntaxErrors, MAX_FLOW_DEPTH } from "./yaml-errors.ts";
import { scanYaml } from "./yaml-scan.ts";

/** A ConfigError that carries every problem found, each "file:line:col …", for `devx config validate`. */
export class ConfigErrors extends ConfigError {
  constructor(
    readonly problems: string[],
    hint = problems.length > 1 ? `${problems.length - 1} more problem${problems.length > 2 ? "s" : ""}: run \`devx config validate\` to list them all` : "fix it, then run `devx config validate`",
  ) {
    super(problems[0] ?? "invalid config", hint);
  }
}

/** At most this many problems are listed per file (a mangled file can produce thousands). */
const MAX_PROBLEMS = 50;
/**
 * Alias expansions allowed while reading (yaml's count: uses of an anchor × the aliases inside it).
 * Anchors keep working for the sharing devx.yaml needs; a "billion laughs" stops here.
 */
const MAX_ALIAS_COUNT = 200;

export type KeyPath = (string | number)[];

/** A parsed file: the value, and where each key path sits in it ("file:line:col"). */
export interface ParsedYaml<T> {
  value: T;
  file: string;
  /** "devx.yaml:12:5" for a key path, or undefined when it is not in this file */
  locate(keys: KeyPath, opts?: { key?: boolean }): string | undefined;
}

export function keyPath(keys: KeyPath): string {
  return keys.map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? k : `.${k}`)).join("");
}

export const shownPath = (file: string, cwd: string) => relative(cwd, file) || file;

function nodeAt(doc: Document, keys: KeyPath): Node | undefined {
  const n = (keys.length === 0 ? doc.contents : doc.getIn(keys, true)) as Node | null | undefined;
  return n ?? undefined;
}

/** The key node of the last path element, or the value node; the nearest ancestor that exists otherwise. */
function offsetOf(doc: Document, keys: KeyPath, wantKey: boolean, exact: boolean): number | undefined {
  if (wantKey && keys.length > 0) {
    const parent = nodeAt(doc, keys.slice(0, -1));
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(keys[keys.length - 1]));
      const k = pair?.key as Node | undefined;
      if (k?.range) return k.range[0];
    }
  }
  for (let n = keys.length; n >= 0; n--) {
    const node = nodeAt(doc, keys.slice(0, n));
    if (node?.range) return node.range[0];
    if (exact) return undefined;
  }
  return undefined;
}

/** The schema that validates the value at `keys`, to suggest keys it would accept. */
function schemaAt(schema: unknown, keys: KeyPath): unknown {
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

/** A value as it appears in a message: JSON, cut short. */
function shown(x: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(x) ?? String(x);
  } catch {
    s = Array.isArray(x) ? "a list" : "a map";
  }
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}

function describeIssue(issue: v.BaseIssue<unknown>, schema: unknown): { keys: KeyPath; message: string; unknownKey: boolean } {
  const keys = (issue.path ?? []).map((p) => p.key as string | number);
  if (issue.expected === "never" && keys.length > 0) {
    const key = String(keys[keys.length - 1]);
    const parent = schemaAt(schema, keys.slice(0, -1)) as { entries?: Record<string, unknown> } | undefined;
    const guess = parent?.entries ? closest(key, Object.keys(parent.entries)) : undefined;
    return { keys, unknownKey: true, message: `unknown key ${shown(key)}${guess ? `; did you mean "${guess}"?` : ""}` };
  }
  if (issue.received === "undefined" && issue.input === undefined) return { keys, unknownKey: false, message: `missing required key` };
  const got = `, got ${shown(issue.input)}`;
  const message = issue.message.startsWith("Invalid") ? `expected ${issue.expected ?? "a different value"}${got}` : `${issue.message}${got}`;
  return { keys, unknownKey: false, message };
}

/**
 * What YAML allows and devx.yaml does not need, checked on the document before it becomes data:
 * aliases to anchors that are not defined before them (or that contain the alias: a cycle), and
 * keys that are lists or maps.
 */
function structureProblems(doc: Document, lc: LineCounter): Array<{ offset: number; message: string }> {
  const out: Array<{ offset: number; message: string }> = [];
  const anchors = new Map<string, { start: number; end: number }>();
  visit(doc, {
    Node(_key, node) {
      if (isAlias(node)) {
        const a = anchors.get(node.source);
        const at = node.range?.[0] ?? 0;
        if (!a || a.start > at) out.push({ offset: at, message: `alias *${node.source} has no anchor &${node.source} before it` });
        else if (a.end > at) out.push({ offset: at, message: `alias *${node.source} is inside the node it names (&${node.source} on line ${lc.linePos(a.start).line}): that would never end` });
        return;
      }
      const anchor = (node as { anchor?: string }).anchor;
      if (anchor && node.range) anchors.set(anchor, { start: node.range[0], end: node.range[2] });
    },
    Pair(_key, pair) {
      const k = pair.key as Node | null;
      if (k && (isCollection(k) || isAlias(k))) out.push({ offset: k.range?.[0] ?? 0, message: "a key must be a plain word, not a list, map or alias" });
      else if (isScalar(k) && (k.value === null || k.value === "")) out.push({ offset: k.range?.[0] ?? 0, message: 'a key is missing before ":"' });
    },
  });
  return out;
}

/**
 * Parse one YAML file and validate it against a schema. Every problem — syntax, aliases, schema —
 * carries file:line:col (and the key path for schema problems); all of them are thrown together
 * as ConfigErrors.
 */
export function parseYaml<T>(text: string, file: string, schema: v.GenericSchema<unknown, T>, cwd = process.cwd()): ParsedYaml<T> {
  const name = shownPath(file, cwd);
  const lc = new LineCounter();
  const fail = (items: Array<{ line: number; col: number; message: string }>, total = items.length): never => {
    const problems = items.slice(0, MAX_PROBLEMS).map((p) => `${name}:${p.line}:${p.col} ${p.message}`);
    if (total > MAX_PROBLEMS) problems.push(`${name}:1:1 ${total - MAX_PROBLEMS} more problems not shown`);
    throw new ConfigErrors(problems);
  };
  // checked before parsing: the parser recurses once per level
  const deep = scanYaml(text, MAX_FLOW_DEPTH).tooDeep;
  if (deep) {
    const before = text.slice(0, deep.offset);
    const line = before.split("\n").length;
    fail([{ line, col: deep.offset - before.lastIndexOf("\n"), message: `lists and maps are nested more than ${MAX_FLOW_DEPTH} levels deep here` }]);
  }
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, logLevel: "error" });
  if (doc.errors.length > 0) fail(describeSyntaxErrors(text, doc.errors, lc));
  const structural = structureProblems(doc, lc);
  if (structural.length > 0) fail(structural.map((p) => ({ ...lc.linePos(p.offset), message: p.message })));
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (e) {
    // the alias count is the only limit toJS enforces; the anchors were checked above
    let first: number | undefined;
    visit(doc, { Alias: (_k, a) => void (first ??= a.range?.[0]) });
    fail([{ ...lc.linePos(first ?? 0), message: e instanceof ReferenceError ? `aliases expand to too many nodes (more than ${MAX_ALIAS_COUNT}): write the values out, or reuse fewer of them` : `cannot read this YAML: ${(e as Error).message}` }]);
  }
  const locate = (keys: KeyPath, opts: { key?: boolean } = {}) => {
    const off = offsetOf(doc, keys, !!opts.key, true);
    if (off === undefined) return undefined;
    const p = lc.linePos(off);
    return `${name}:${p.line}:${p.col}`;
  };
  const result = v.safeParse(schema, data, { abortPipeEarly: true });
  if (result.success) return { value: result.output, file, locate };
  return fail(
    result.issues.slice(0, MAX_PROBLEMS).map((issue) => {
      const d = describeIssue(issue, schema);
      const p = lc.linePos(offsetOf(doc, d.keys, d.unknownKey, false) ?? 0);
      return { ...p, message: `${d.keys.length ? `${keyPath(d.keys)}: ` : ""}${d.message}` };
    }),
    result.issues.length,
  );
}
