#!/usr/bin/env bun
/**
 * Writes what is generated from the sources of truth: schema/devx.schema.json and
 * docs/config-reference.md from the config schema; the README's command list and exit-code table
 * from the command registry. test/unit/config/generated.test.ts fails when a committed copy drifts.
 */
import { configJsonSchema } from "../src/config/json-schema.ts";
import { resolve } from "node:path";
import { readFileSync } from "node:fs";
import { rootHelp } from "../src/cli/help.ts";
import { exitCodesTable } from "../src/cli/exit-codes.ts";
import { commands } from "../src/cli/commands/index.ts";

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

/** Replace the text between `<!-- gen:NAME -->` and `<!-- /gen:NAME -->`. */
function fill(text: string, name: string, body: string): string {
  const re = new RegExp(`(<!-- gen:${name} -->\\n)[\\s\\S]*?(<!-- /gen:${name} -->)`);
  if (!re.test(text)) throw new Error(`README.md has no gen:${name} block`);
  return text.replace(re, `$1\`\`\`\n${body.trimEnd()}\n\`\`\`\n$2`);
}

export function generatedReadme(current: string): string {
  return fill(fill(current, "help", rootHelp(commands)), "exit-codes", exitCodesTable());
}

export function generated(): { schema: string; reference: string } {
  const schema = configJsonSchema() as J;
  const out = [
    "# devx.yaml reference",
    "",
    "Generated from `src/config/schema.ts` by `bun scripts/gen-docs.ts`; do not edit by hand.",
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
  const readme = resolve(root, "README.md");
  await Bun.write(readme, generatedReadme(readFileSync(readme, "utf8")));
  console.error("wrote schema/devx.schema.json, docs/config-reference.md and README.md's generated blocks");
}
