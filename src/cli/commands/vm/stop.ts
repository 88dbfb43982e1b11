import * as v from "valibot";
import { defineCommand } from "../../define.ts";
import { printPlan, quiet, vmFlags } from "./shared.ts";

export default defineCommand({
  path: ["vm", "stop"],
  group: "Local infrastructure",
  dryRun: "plan",
  summary: "stop the devx VM",
  examples: ["devx vm stop", "devx vm stop --dry-run"],
  options: v.object({ ...vmFlags }),
  async run(opts, deps) {
    const { vmStop } = await import("../../../core/vm/lifecycle.ts");
    const r = await vmStop(quiet(deps), { ...opts, dryRun: deps.global.dryRun });
    printPlan(deps, r, `VM ${r.vm} stopped`);
  },
});
