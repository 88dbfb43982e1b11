import { toJsonSchema } from "@valibot/to-json-schema";
import { configSchema } from "./schema.ts";

/** JSON Schema of devx.yaml, derived from the valibot schema (committed as schema/devx.schema.json). */
export function configJsonSchema(): Record<string, unknown> {
  const s = toJsonSchema(configSchema, { errorMode: "ignore" }) as Record<string, unknown>;
  return { $id: "https://devx.dev/schema/devx.schema.json", title: "devx.yaml", ...s };
}
