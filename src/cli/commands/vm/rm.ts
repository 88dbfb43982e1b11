import * as v from "valibot";
import { defineCommand } from "../../define.ts";
import { printPlan, quiet, vmFlags } from "./shared.ts";

export default defineCommand({
  path: ["vm", "rm"],
  group: "Local infrastructure",
  summary: "delete the devx VM and its disk (asks first; -y to confirm)",
  examples: ["devx vm rm", "devx vm rm -y", "devx vm rm --dry-run"],
  options: v.object({ ...vmFlags }),
  async run(opts, deps) {
    const { vmRemove } = await import("../../../core/vm/ops.ts");
    const r = await vmRemove(quiet(deps), opts);
    printPlan(deps, r, `VM ${r.vm} removed`);
  },
});
