import * as v from "valibot";
import { defineCommand, flag } from "../../define.ts";
import { printPlan, quiet, vmFlags } from "./shared.ts";

export default defineCommand({
  path: ["vm", "rm"],
  group: "Local infrastructure",
  dryRun: "plan",
  summary: "delete the devx VM and its disk (asks first; -y to confirm)",
  description: "With vm.cloudflare set, the VM's Cloudflare tunnel goes too, with the devx DNS records (and basic-auth\nWorkers) pointing at it; --keep-tunnel leaves them for a VM created again under the same name.",
  examples: ["devx vm rm", "devx vm rm -y", "devx vm rm --dry-run"],
  options: v.object({ ...vmFlags, keepTunnel: flag("keep the VM's Cloudflare tunnel and its DNS records") }),
  async run(opts, deps) {
    const { vmRemove } = await import("../../../core/vm/lifecycle.ts");
    const r = await vmRemove(quiet(deps), { ...opts, dryRun: deps.global.dryRun });
    printPlan(deps, r, `VM ${r.vm} removed`);
  },
});
