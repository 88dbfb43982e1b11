import * as v from "valibot";
import { defineCommand } from "../../define.ts";
import { printPlan, quiet, vmFlags } from "./shared.ts";

export default defineCommand({
  path: ["vm", "start"],
  group: "Local infrastructure",
  dryRun: "plan",
  summary: "start the devx VM",
  examples: ["devx vm start", "devx vm start --dry-run"],
  options: v.object({ ...vmFlags }),
  async run(opts, deps) {
    const { vmStart } = await import("../../../core/vm/lifecycle.ts");
    const r = await vmStart(quiet(deps), { ...opts, dryRun: deps.global.dryRun });
    printPlan(deps, r, `VM ${r.vm} started`);
  },
});
