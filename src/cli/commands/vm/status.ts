import * as v from "valibot";
import { defineCommand } from "../../define.ts";
import { quiet, vmFlags } from "./shared.ts";

export default defineCommand({
  path: ["vm", "status"],
  group: "Local infrastructure",
  dryRun: "read-only",
  summary: "show the VM's provider, state, resources, features and tailnet address",
  examples: ["devx vm status", "devx vm status --json | jq .tailnet"],
  options: v.object({ ...vmFlags }),
  async run(opts, deps) {
    const { vmStatus } = await import("../../../core/vm/lifecycle.ts");
    const s = await vmStatus(quiet(deps), { ...opts, dryRun: deps.global.dryRun });
    if (deps.global.json) {
      deps.io.out.write(JSON.stringify(s, null, 2) + "\n");
      return;
    }
    const res = [s.cpus && `${s.cpus} CPUs`, s.memoryMiB && `${Math.round(s.memoryMiB)} MiB`, s.diskGiB && `${Math.round(s.diskGiB)} GiB disk`].filter(Boolean).join(", ");
    const t = s.tailnet;
    const lines = [
      `vm:        ${s.vm}`,
      `provider:  ${s.provider.name} ${s.provider.version} (chosen by ${s.provider.from})`,
      `state:     ${s.state}${res ? `  (${res})` : ""}`,
      `runtime:   ${s.runtime.kind} — ${s.runtime.endpoint}`,
      `tailnet:   ${t.ipv4 ? `${t.ipv4}${t.dnsName ? ` ${t.dnsName}` : ""} (${t.state})` : `${t.state}${t.reason ? ` — ${t.reason}` : ""}`}`,
      ...Object.entries(s.features).filter(([, f]) => !f.supported || f.reason).map(([k, f]) => `  ${f.supported ? "~" : "✗"} ${k}: ${f.reason}`),
    ];
    deps.io.out.write(lines.join("\n") + "\n");
  },
});
