import * as v from "valibot";
import { defineCommand } from "../../define.ts";
import { printPlan, quiet, vmFlags } from "./shared.ts";

export default defineCommand({
  path: ["vm", "sleep"],
  group: "Local infrastructure",
  dryRun: "plan",
  summary: "free the VM's CPU and memory, keeping its disk (stop where the provider cannot suspend)",
  examples: ["devx vm sleep", "devx vm sleep --dry-run"],
  options: v.object({ ...vmFlags }),
  async run(opts, deps) {
    const { vmStop } = await import("../../../core/vm/lifecycle.ts");
    const r = await vmStop(quiet(deps), { ...opts, sleep: true, dryRun: deps.global.dryRun });
    printPlan(deps, r, `VM ${r.vm} is asleep; wake it with devx vm start`);
  },
});
