import * as v from "valibot";
import { defineCommand } from "../../define.ts";
import { ConfigErrors } from "../../../config/load.ts";
import { plural } from "../../../events/format.ts";

export default defineCommand({
  path: ["config", "validate"],
  group: "Orchestration & state",
  dryRun: "read-only",
  summary: "check devx.yaml (with includes and profile) and list every problem with its position",
  description:
    "Runs the checks `devx up` runs before it starts anything — the schema, includes, the profile, then the\n" +
    "service graph (unknown depends_on targets, cycles, duplicate names, port clashes, keys a runtime needs) —\n" +
    "and lists every problem as file:line:col. Exit code 3 when there is one.",
  examples: ["devx config validate", "devx config validate --profile ci --json"],
  options: v.object({}),
  async run(_opts, deps) {
    const { buildGraph } = await import("../../../core/up/graph.ts");
    try {
      const c = await deps.config();
      buildGraph(c.config, { locate: c.locate });
      if (deps.global.json) deps.io.out.write(JSON.stringify({ valid: true, path: c.path, files: c.files, profile: c.profile ?? null }) + "\n");
      else deps.io.out.write(`${c.path} is valid${c.files.length > 1 ? ` (with ${plural(c.files.length - 1, "included file")})` : ""}${c.profile ? `, profile ${c.profile}` : ""}\n`);
      return 0;
    } catch (e) {
      if (!(e instanceof ConfigErrors)) throw e;
      if (deps.global.json) deps.io.out.write(JSON.stringify({ valid: false, problems: e.problems }) + "\n");
      for (const p of e.problems) deps.io.err.write(`${p}\n`);
      deps.io.err.write(`${plural(e.problems.length, "problem")} found\n`);
      return 3;
    }
  },
});
