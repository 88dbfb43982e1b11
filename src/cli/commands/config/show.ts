import * as v from "valibot";
import { stringify } from "yaml";
import { defineCommand } from "../../define.ts";

export default defineCommand({
  path: ["config", "show"],
  group: "Orchestration & state",
  dryRun: "read-only",
  summary: "print the effective config after includes and the profile are applied",
  options: v.object({}),
  async run(_opts, deps) {
    const c = await deps.config();
    if (deps.global.json) deps.io.out.write(JSON.stringify(c.config, null, 2) + "\n");
    else deps.io.out.write(`# ${c.path}${c.profile ? ` (profile ${c.profile})` : ""}\n${stringify(c.config)}`);
  },
});
