import * as v from "valibot";
import { defineCommand } from "../../define.ts";
import { configJsonSchema } from "../../../config/json-schema.ts";

export default defineCommand({
  path: ["config", "schema"],
  group: "Orchestration & state",
  dryRun: "read-only",
  summary: "print the JSON Schema of devx.yaml (for editor completion and validation)",
  examples: ["devx config schema > .vscode/devx.schema.json"],
  options: v.object({}),
  async run(_opts, deps) {
    deps.io.out.write(JSON.stringify(configJsonSchema(), null, 2) + "\n");
  },
});
