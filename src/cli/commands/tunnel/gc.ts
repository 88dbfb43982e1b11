import * as v from "valibot";
import { defineCommand, flag, option, optionWithDefault } from "../../define.ts";
import { UsageError } from "../../../errors.ts";

export default defineCommand({
  path: ["tunnel", "gc"],
  group: "Networking & edge",
  dryRun: "plan",
  summary: "remove DNS records and ingress rules devx created that no longer have an owner",
  description:
    "Acts on this VM's tunnel only (the one `devx vm init` recorded on this machine) and the devx DNS records\n" +
    "pointing at it: a devx record whose tunnel no longer routes its host, and a rule devx added that no devx record\n" +
    "points at. Rules devx did not add are the user's and stay. --all-mine also covers every tunnel with your owner id\n" +
    "(in its name) and every record whose devx comment names you, e.g. those of a VM removed without `vm rm`; a\n" +
    "teammate's tunnel or record is never touched. Nothing younger than --grace is removed: it may belong to an\n" +
    "expose still running elsewhere. --dry-run lists without removing.",
  examples: ["devx tunnel gc --dry-run", "devx tunnel gc --domain example.dev", "devx tunnel gc --all-mine --grace 1h"],
  options: v.object({
    domain: option("zone (default: vm.cloudflare.zone)", { placeholder: "zone" }),
    allMine: flag("every tunnel and record carrying your owner id, not only this VM's"),
    grace: optionWithDefault("leave orphans younger than this (a duration: 30s, 10m, 1h)", "10m", { placeholder: "duration" }),
  }),
  async run(opts, deps) {
    const { parseDuration } = await import("../../../config/duration.ts");
    const graceMs = parseDuration(opts.grace);
    if (graceMs === undefined) throw new UsageError(`--grace "${opts.grace}" is not a duration`, "give a duration such as 30s, 10m or 1h (0s removes orphans of any age)");
    const { gc } = await import("../../../core/tunnel/gc.ts");
    const r = await gc(deps, { domain: opts.domain, dryRun: deps.global.dryRun, allMine: opts.allMine, graceMs });
    if (deps.global.json) {
      deps.io.out.write(JSON.stringify({ dryRun: deps.global.dryRun, ...r }, null, 2) + "\n");
      return;
    }
    const verb = deps.global.dryRun ? "would remove" : "removed";
    const what = { dns: "DNS record", ingress: "ingress rule", auth: "basic-auth guard" } as const;
    if (!r.removed.length) deps.io.out.write("nothing to collect\n");
    for (const i of r.removed) deps.io.out.write(`${verb} ${what[i.kind]} ${i.hostname} (${i.tunnel}): ${i.reason}\n`);
    for (const i of r.kept) deps.io.err.write(`kept ${what[i.kind]} ${i.hostname} (${i.tunnel}): ${i.reason} (--grace ${opts.grace})\n`);
  },
});
