import * as v from "valibot";
import { arg, defineCommand, option } from "../../define.ts";

export default defineCommand({
  path: ["tunnel", "unexpose"],
  group: "Networking & edge",
  dryRun: "plan",
  summary: "remove an exposure: its ingress rule and its DNS record",
  examples: ["devx tunnel unexpose api", "devx tunnel unexpose api.example.dev"],
  options: v.object({
    name: arg("host name label or full host name", { placeholder: "name" }),
    domain: option("zone (default: vm.cloudflare.zone)", { placeholder: "zone" }),
  }),
  async run(opts, deps) {
    const { unexpose } = await import("../../../core/tunnel/expose.ts");
    const r = await unexpose(deps, { name: opts.name, domain: opts.domain, dryRun: deps.global.dryRun });
    if (deps.global.json) deps.io.out.write(JSON.stringify(r, null, 2) + "\n");
    else if (r.plan) deps.io.out.write(`${r.plan.join("\n")}\n`);
    else deps.io.out.write(`removed ${r.hostname}\n`);
  },
});
