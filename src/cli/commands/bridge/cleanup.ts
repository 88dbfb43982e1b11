import * as v from "valibot";
import { plural } from "../../../events/format.ts";
import { defineCommand } from "../../define.ts";
import { kubeFlags } from "./background.ts";

export default defineCommand({
  path: ["bridge", "cleanup"],
  group: "Kubernetes & hybrid",
  dryRun: "plan",
  summary: "find orphaned intercept agents and Service patches in the cluster by label, and remove them",
  description:
    "An orphan is a devx agent object (Job, Pod, ServiceAccount, Role, RoleBinding; its Secret and NetworkPolicy go\n" +
    "with them) whose agent is not running, or a Service still annotated with such a session. Services get their\n" +
    "original selector back from the annotation. Lists every namespace you may list (else the current one), checks\n" +
    "that you may remove what it found, and asks before removing (-y).",
  examples: ["devx bridge cleanup", "devx bridge cleanup -y --json", "devx bridge cleanup --dry-run"],
  options: v.object({ ...kubeFlags }),
  async run(opts, deps) {
    const { findOrphans, removeOrphan } = await import("../../../core/bridge/status.ts");
    const { bridgeSettings } = await import("../../../core/bridge/settings.ts");
    const { listSessions } = await import("../../../platform/sessions.ts");
    const { kube } = await bridgeSettings(deps, opts);
    const live = new Set((await listSessions(deps.paths.state, "bridge")).filter((r) => !r.stale).map((r) => r.id));
    const orphans = (await findOrphans(kube)).filter((o) => !live.has(o.session));
    const list = orphans.map((o) => `${o.namespace}/${o.session}: ${o.objects.join(", ")}`);
    if (!orphans.length || opts.dryRun) {
      if (deps.global.json) deps.io.out.write(JSON.stringify({ orphans, removed: [] }, null, 2) + "\n");
      else deps.io.out.write(orphans.length ? `would remove:\n${list.map((l) => `  ${l}\n`).join("")}` : "no orphaned devx agents found\n");
      return 0;
    }
    if (!deps.global.json) deps.io.err.write(`orphaned devx agents:\n${list.map((l) => `  ${l}\n`).join("")}`);
    const { missingPermissions, permissionError } = await import("../../../core/bridge/preflight.ts");
    const { cleanupNeeds } = await import("../../../core/bridge/rbac.ts");
    for (const ns of new Set(orphans.map((o) => o.namespace))) {
      const missing = await missingPermissions(kube, ns, cleanupNeeds());
      if (missing.length) throw permissionError(missing, ns, "removing orphaned agents");
    }
    await deps.confirm(`remove ${plural(orphans.length, "orphaned session")} and restore their Services?`);
    const removed: string[] = [];
    for (const o of orphans) {
      await removeOrphan(kube, o);
      removed.push(`${o.namespace}/${o.session}`);
      deps.emit({ type: "step", id: `cleanup-${o.session}`, title: `removed ${o.namespace}/${o.session}${o.service ? ` and restored Service ${o.service}` : ""}`, status: "done" });
    }
    if (deps.global.json) deps.io.out.write(JSON.stringify({ orphans, removed }, null, 2) + "\n");
    return 0;
  },
});
