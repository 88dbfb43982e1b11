#!/usr/bin/env bun
/**
 * Writes the files generated from the one config schema: schema/devx.schema.json (for editors)
 * and docs/config-reference.md (the reference table). test/unit/config/generated.test.ts fails
 * when the committed copies drift from the schema.
 */
import { configJsonSchema } from "../src/config/json-schema.ts";
import { resolve } from "node:path";

const root = resolve(import.meta.dir, "..");

type J = { type?: string | string[]; description?: string; properties?: Record<string, J>; items?: J; anyOf?: J[]; enum?: unknown[]; additionalProperties?: J | boolean; required?: string[]; default?: unknown; minimum?: number; maximum?: number; pattern?: string };

function typeOf(s: J): string {
  if (s.enum) return s.enum.map((e) => JSON.stringify(e)).join(" \\| ");
  if (s.anyOf) return s.anyOf.map(typeOf).join(" \\| ");
  if (s.type === "array") return `list of ${s.items ? typeOf(s.items) : "any"}`;
  if (s.type === "object" && !s.properties && typeof s.additionalProperties === "object") return `map of ${typeOf(s.additionalProperties)}`;
  return Array.isArray(s.type) ? s.type.join(" \\| ") : (s.type ?? "any");
}

function rows(s: J, prefix: string, out: string[]): void {
  const props = s.properties ?? {};
  for (const [k, p] of Object.entries(props)) {
    const path = prefix ? `${prefix}.${k}` : k;
    const obj = p.type === "array" && p.items?.properties ? p.items : p;
    const req = s.required?.includes(k) ? "yes" : "";
    const dflt = p.default !== undefined ? `\`${JSON.stringify(p.default)}\`` : "";
    const notes = [p.description, p.pattern ? `pattern \`${p.pattern}\`` : "", p.minimum !== undefined ? `min ${p.minimum}` : "", p.maximum !== undefined ? `max ${p.maximum}` : ""].filter(Boolean).join("; ");
    out.push(`| \`${path}${p.type === "array" && p.items?.properties ? "[]" : ""}\` | ${obj.properties ? (p.type === "array" ? "list of maps" : "map") : typeOf(p)} | ${req} | ${dflt} | ${notes} |`);
    if (obj.properties && k !== "profiles") rows(obj, `${path}${p.type === "array" ? "[]" : ""}`, out);
  }
}

export function generated(): { schema: string; reference: string } {
  const schema = configJsonSchema() as J;
  const out = [
    "# devx.yaml reference",
    "",
    "Generated from `src/config/schema.ts` by `bun scripts/gen-schema.ts`; do not edit by hand.",
    "Every map is strict: an unknown key is an error with a suggestion. `profiles.<name>` accepts the",
    "same keys as the top level except `name`, `include` and `profiles` (see docs/config.md for merge rules).",
    "",
    "| key | type | required | default | notes |",
    "|---|---|---|---|---|",
  ];
  rows(schema, "", out);
  return { schema: JSON.stringify(schema, null, 2) + "\n", reference: out.join("\n") + "\n" };
}

if (import.meta.main) {
  const g = generated();
  await Bun.write(resolve(root, "schema/devx.schema.json"), g.schema);
  await Bun.write(resolve(root, "docs/config-reference.md"), g.reference);
  console.error("wrote schema/devx.schema.json and docs/config-reference.md");
}
