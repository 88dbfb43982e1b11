/**
 * Extracts the few operations devx calls from Cloudflare's published OpenAPI description
 * (github.com/cloudflare/api-schemas, openapi.json) into operations.json beside this file, so
 * the fake API and the request checks are derived from the official contract without vendoring
 * the whole multi-megabyte spec.
 *
 *   bun test/support/cloudflare-openapi/extract.ts <path/to/openapi.json> <commit> <date>
 *
 * $refs are resolved; descriptions and examples are dropped; readOnly properties stay marked so
 * the validator can refuse them in requests. A few parameters were added to the API after the
 * newest full spec the mirror holds; they are listed in SUPPLEMENT with their source.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const [specPath, commit, date] = process.argv.slice(2);
if (!specPath || !commit) throw new Error("usage: extract.ts <openapi.json> <commit> [date]");
const spec = JSON.parse(readFileSync(specPath, "utf8")) as Obj;

const DROP = new Set(["description", "example", "examples", "x-auditable", "title", "externalDocs", "deprecated"]);
function resolve(x: Json, depth = 0): Json {
  if (depth > 40) throw new Error("ref depth");
  if (Array.isArray(x)) return x.map((v) => resolve(v, depth));
  if (!x || typeof x !== "object") return x;
  if (typeof x.$ref === "string") {
    let node: Json = spec;
    for (const part of x.$ref.slice(2).split("/")) node = (node as Obj)[part.replace(/~1/g, "/").replace(/~0/g, "~")]!;
    return resolve(node, depth + 1);
  }
  const out: Obj = {};
  for (const [k, v] of Object.entries(x)) if (!DROP.has(k)) out[k] = resolve(v, depth);
  return out;
}

/** method, path, and for a oneOf body the variant devx sends (by its `type` enum) */
const OPS: Array<[string, string, string?]> = [
  ["GET", "/zones"],
  ["GET", "/accounts/{account_id}/cfd_tunnel"],
  ["POST", "/accounts/{account_id}/cfd_tunnel"],
  ["GET", "/accounts/{account_id}/cfd_tunnel/{tunnel_id}"],
  ["DELETE", "/accounts/{account_id}/cfd_tunnel/{tunnel_id}"],
  ["GET", "/accounts/{account_id}/cfd_tunnel/{tunnel_id}/token"],
  ["DELETE", "/accounts/{account_id}/cfd_tunnel/{tunnel_id}/connections"],
  ["GET", "/accounts/{account_id}/cfd_tunnel/{tunnel_id}/configurations"],
  ["PUT", "/accounts/{account_id}/cfd_tunnel/{tunnel_id}/configurations"],
  ["GET", "/zones/{zone_id}/dns_records"],
  ["POST", "/zones/{zone_id}/dns_records", "CNAME"],
  ["DELETE", "/zones/{zone_id}/dns_records/{dns_record_id}"],
  ["GET", "/zones/{zone_id}/workers/routes"],
  ["POST", "/zones/{zone_id}/workers/routes"],
  ["DELETE", "/zones/{zone_id}/workers/routes/{route_id}"],
];

/** merge allOf parts into one object schema (properties and required united) */
function flatten(s: Obj): Obj {
  if (!Array.isArray(s.allOf)) return s;
  const out: Obj = { type: "object", properties: {}, required: [] };
  for (const part of [...(s.allOf as Obj[]).map(flatten), { ...s, allOf: null }]) {
    Object.assign(out.properties as Obj, (part.properties as Obj) ?? {});
    for (const r of (part.required as string[]) ?? []) if (!(out.required as string[]).includes(r)) (out.required as string[]).push(r);
  }
  return out;
}

const SUPPLEMENT: Record<string, { source: string; query: Obj }> = {
  "GET /zones/{zone_id}/dns_records": {
    source: "cloudflare/cloudflare-typescript faaaf89ed8064a9fb54de538ec3e89487f1302b0 src/resources/dns/records.ts RecordListParams (serialised with qs allowDots, src/internal/utils/query.ts)",
    query: Object.fromEntries(
      [
        ...["exact", "contains", "startswith", "endswith"].flatMap((op) => [`name.${op}`, `content.${op}`]),
        ...["exact", "contains", "startswith", "endswith", "present", "absent"].map((op) => `comment.${op}`),
      ].map((k) => [k, { type: "string" }]),
    ),
  },
};

const operations: Obj = {};
for (const [method, path, variant] of OPS) {
  const item = (spec.paths as Obj)[path] as Obj;
  const op = item[method.toLowerCase()] as Obj;
  if (!op) throw new Error(`${method} ${path} is not in the spec`);
  const params = [...((item.parameters as Json[]) ?? []), ...((op.parameters as Json[]) ?? [])].map((p) => resolve(p) as Obj);
  const query: Obj = {};
  for (const p of params) if (p.in === "query") query[p.name as string] = p.schema as Json;
  let body: Json = null;
  const content = ((op.requestBody as Obj | undefined)?.content as Obj | undefined)?.["application/json"] as Obj | undefined;
  if (content?.schema && method !== "DELETE") {
    let s = resolve(content.schema) as Obj;
    if (variant && Array.isArray(s.oneOf)) s = (s.oneOf as Obj[]).map(flatten).find((v) => JSON.stringify(((v.properties as Obj).type as Obj).enum) === JSON.stringify([variant]))!;
    body = flatten(s);
  }
  const sup = SUPPLEMENT[`${method} ${path}`];
  operations[`${method} ${path}`] = { operationId: op.operationId as string, query: { ...query, ...(sup?.query ?? {}) }, body, ...(sup ? { supplement: sup.source } : {}) };
}

const out = {
  source: { repository: "github.com/cloudflare/api-schemas", path: "openapi.json", commit, date: date ?? null },
  note:
    "Generated by extract.ts from the official OpenAPI description; do not edit by hand. Known gaps between this " +
    "description and the live API are handled in fake-cloudflare.ts and listed there (catch-all ingress rules have " +
    "no hostname; DELETE takes no body).",
  operations,
};
writeFileSync(join(import.meta.dir, "operations.json"), JSON.stringify(out, null, 1) + "\n");
console.log(`wrote ${Object.keys(operations).length} operations`);
