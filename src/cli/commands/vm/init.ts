import * as v from "valibot";
import { defineCommand, flag } from "../../define.ts";
import { printPlan, quiet, vmFlags } from "./shared.ts";

export default defineCommand({
  path: ["vm", "init"],
  group: "Local infrastructure",
  dryRun: "plan",
  summary: "create the devx VM with its machine configuration (idempotent)",
  description:
    "Creates the VM named in devx.yaml (vm.name, default devx) with the provider chosen by --provider, your user\n" +
    "config, devx.yaml, or the only one installed. The machine configuration (ssh key, inotify limits, secrets file,\n" +
    "cloudflared and tailscaled units) is compiled once and passed at creation: Ignition 3.3.0 for podman machine,\n" +
    "provisioning scripts for Lima, Colima and OrbStack. An existing VM is reported and left alone; --recreate\n" +
    "replaces it after confirmation. With vm.cloudflare set, the VM's own Cloudflare tunnel is created first.",
  examples: ["devx vm init", "devx vm init --provider lima --dry-run", "devx vm init --recreate -y", "devx vm init --dry-run --json"],
  options: v.object({
    ...vmFlags,
    recreate: flag("delete an existing VM of that name and create it again (asks first; -y to confirm)"),
  }),
  async run(opts, deps) {
    const { vmInit } = await import("../../../core/vm/lifecycle.ts");
    const r = await vmInit(quiet(deps), { ...opts, dryRun: deps.global.dryRun });
    printPlan(deps, r, `VM ${r.vm} created and started (${r.provider})`);
  },
});
