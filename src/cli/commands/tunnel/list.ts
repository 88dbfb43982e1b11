import * as v from "valibot";
import { defineCommand, option } from "../../define.ts";

export default defineCommand({
  path: ["tunnel", "list"],
  group: "Networking & edge",
  dryRun: "read-only",
  summary: "list what is exposed through the VM's tunnel, as Cloudflare has it now",
  examples: ["devx tunnel list", "devx tunnel list --json"],
  options: v.object({ domain: option("zone (default: vm.cloudflare.zone)", { placeholder: "zone" }) }),
  async run(opts, deps) {
    const { listTunnels } = await import("../../../core/tunnel/expose.ts");
    const r = await listTunnels(deps, { domain: opts.domain });
    if (deps.global.json) {
      deps.io.out.write(JSON.stringify(r, null, 2) + "\n");
      return;
    }
    if (!r.tunnel) {
      deps.io.out.write("no tunnel for this VM (run `devx vm init` with vm.cloudflare set)\n");
      return;
    }
    deps.io.err.write(`tunnel ${r.tunnel.name} (${r.tunnel.status ?? "unknown"})\n`);
    if (!r.exposures.length) {
      deps.io.out.write("nothing exposed\n");
      return;
    }
    const w = Math.max(...r.exposures.map((e) => e.url.length)) + 2;
    for (const e of r.exposures) {
      const broken = !e.live ? `  (${e.ingress ? "no DNS record" : "no ingress rule"}: run devx tunnel gc)` : "";
      deps.io.out.write(`${e.url.padEnd(w)}${(e.service ?? "-").padEnd(24)}${e.auth === "basic" ? "basic auth" : ""}${broken}`.trimEnd() + "\n");
    }
  },
});
