import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { generated, generatedReadme } from "../../../scripts/gen-docs.ts";

const root = resolve(import.meta.dir, "../../..");

test("schema/devx.schema.json matches the valibot schema (run `bun scripts/gen-docs.ts`)", () => {
  expect(readFileSync(resolve(root, "schema/devx.schema.json"), "utf8")).toBe(generated().schema);
});

test("docs/config-reference.md matches the valibot schema (run `bun scripts/gen-docs.ts`)", () => {
  expect(readFileSync(resolve(root, "docs/config-reference.md"), "utf8")).toBe(generated().reference);
});

test("the JSON schema rejects unknown keys like the loader does", () => {
  const s = JSON.parse(generated().schema);
  expect(s.additionalProperties).toBe(false);
  expect(s.properties.services.items.additionalProperties).toBe(false);
});

test("README's command list and exit-code table match the registry (run `bun scripts/gen-docs.ts`)", () => {
  const readme = readFileSync(resolve(root, "README.md"), "utf8");
  expect(readme).toBe(generatedReadme(readme));
});
