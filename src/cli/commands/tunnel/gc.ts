import * as v from "valibot";
import { defineCommand, option } from "../../define.ts";

export default defineCommand({
  path: ["tunnel", "gc"],
  group: "Networking & edge",
  dryRun: "plan",
  summary: "remove DNS records and ingress rules devx created that no longer have an owner",
  description: "A devx DNS record is orphaned when its tunnel is gone or no longer routes its host; a rule in a devx tunnel\nis orphaned when no DNS record points at that tunnel for its host. --dry-run lists without removing.",
  examples: ["devx tunnel gc --dry-run", "devx tunnel gc --domain example.dev"],
  options: v.object({ domain: option("zone (default: vm.cloudflare.zone)", { placeholder: "zone" }) }),
  async run(opts, deps) {
    const { gc } = await import("../../../core/tunnel/ops.ts");
    const items = await gc(deps, { domain: opts.domain, dryRun: deps.global.dryRun });
    if (deps.global.json) {
      deps.io.out.write(JSON.stringify({ dryRun: deps.global.dryRun, removed: items }, null, 2) + "\n");
      return;
    }
    const verb = deps.global.dryRun ? "would remove" : "removed";
    if (!items.length) deps.io.out.write("nothing to collect\n");
    for (const i of items) deps.io.out.write(`${verb} ${i.kind === "dns" ? "DNS record" : "ingress rule"} ${i.hostname}: ${i.reason}\n`);
  },
});
