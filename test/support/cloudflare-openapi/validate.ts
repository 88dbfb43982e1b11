import operationsFile from "./operations.json" with { type: "json" };

/**
 * A small JSON-Schema check over the operations extracted from Cloudflare's OpenAPI description
 * (operations.json): enough of the vocabulary those schemas use (type, enum, properties, required,
 * items, anyOf/oneOf, min/max, lengths, pattern, readOnly). Requests are held to it more strictly
 * than the live API, which ignores unknown fields: a field or query parameter the description does
 * not name is reported, because from devx it can only be a typo that silently does nothing.
 */
type Schema = {
  type?: string;
  enum?: unknown[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  pattern?: string;
  readOnly?: boolean;
  format?: string;
};

export interface Operation {
  operationId: string;
  query: Record<string, Schema>;
  body: Schema | null;
}

export const OPENAPI_SOURCE = operationsFile.source;
const OPERATIONS = operationsFile.operations as unknown as Record<string, Operation>;

/** The documented operation for a concrete request path, e.g. GET /zones/abc/dns_records. */
export function operationFor(method: string, path: string): { key: string; op: Operation } | undefined {
  for (const [key, op] of Object.entries(OPERATIONS)) {
    const [m, template] = key.split(" ") as [string, string];
    if (m !== method) continue;
    const re = new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`);
    if (re.test(path)) return { key, op };
  }
  return undefined;
}

const typeOf = (v: unknown) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

/** Problems with `value` against `schema`, each prefixed with its JSON path; [] when it conforms. */
export function check(schema: Schema, value: unknown, at = "body"): string[] {
  if (schema.anyOf || schema.oneOf) {
    const branches = (schema.anyOf ?? schema.oneOf)!;
    const ok = branches.filter((b) => check(b, value, at).length === 0).length;
    if (schema.oneOf ? ok !== 1 : ok === 0) return [`${at}: matches ${ok} of the ${branches.length} allowed forms`];
  }
  const t = typeOf(value);
  if (schema.type) {
    const fits = schema.type === "integer" ? Number.isInteger(value) : schema.type === "number" ? t === "number" : schema.type === t;
    if (!fits) return [`${at}: expected ${schema.type}, got ${t}`];
  }
  const out: string[] = [];
  if (schema.enum && !schema.enum.includes(value)) out.push(`${at}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  if (typeof value === "string") {
    if (schema.maxLength !== undefined && value.length > schema.maxLength) out.push(`${at}: longer than ${schema.maxLength}`);
    if (schema.minLength !== undefined && value.length < schema.minLength) out.push(`${at}: shorter than ${schema.minLength}`);
    if (schema.pattern && !new RegExp(schema.pattern).test(value)) out.push(`${at}: does not match ${schema.pattern}`);
  }
  if (typeof value === "number") {
    if (schema.minimum !== undefined && value < schema.minimum) out.push(`${at}: below the minimum ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) out.push(`${at}: above the maximum ${schema.maximum}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) out.push(`${at}: fewer than ${schema.minItems} items`);
    if (schema.items) value.forEach((v, i) => out.push(...check(schema.items!, v, `${at}[${i}]`)));
  }
  if (t === "object" && (schema.properties || schema.type === "object")) {
    const obj = value as Record<string, unknown>;
    const props = schema.properties ?? {};
    for (const [k, v] of Object.entries(obj)) {
      const p = props[k];
      if (!p) {
        if (schema.properties) out.push(`${at}.${k}: not a documented field`);
        continue;
      }
      if (p.readOnly) out.push(`${at}.${k}: read-only, not accepted in a request`);
      else out.push(...check(p, v, `${at}.${k}`));
    }
    for (const r of schema.required ?? []) if (obj[r] === undefined && !props[r]?.readOnly) out.push(`${at}.${r}: required`);
  }
  return out;
}

/** Problems with a request's query string against the operation's documented parameters. */
export function checkQuery(op: Operation, query: URLSearchParams): string[] {
  const out: string[] = [];
  for (const [k, raw] of query) {
    const s = op.query[k];
    if (!s) {
      out.push(`query ${k}: not a documented parameter of ${op.operationId}`);
      continue;
    }
    const value = s.type === "number" || s.type === "integer" ? (raw.trim() === "" ? Number.NaN : Number(raw)) : s.type === "boolean" ? (raw === "true" ? true : raw === "false" ? false : raw) : raw;
    if (typeof value === "number" && Number.isNaN(value)) out.push(`query ${k}: "${raw}" is not a number`);
    else out.push(...check(s, value, `query ${k}`));
  }
  return out;
}
