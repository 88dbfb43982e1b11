import * as v from "valibot";
import { defineCommand } from "../define.ts";

export default defineCommand({
  path: ["down"],
  group: "Orchestration & state",
  dryRun: "plan",
  summary: "stop the running `devx up` of this project (reverse dependency order)",
  description:
    "Asks the running `devx up` (foreground or --detach) to stop every node and waits until it has. When that run\n" +
    "was killed without stopping its nodes (SIGKILL, OOM), stops what its record lists instead: host process groups\n" +
    "whose leader still has the recorded start time, processes carrying its run marker, its containers.",
  examples: ["devx down", "devx down --json", "devx down --dry-run"],
  options: v.object({}),
  async run(_opts, deps) {
    if (deps.global.dryRun) {
      const { projectName, readUpSession } = await import("../../core/up/session.ts");
      const loaded = await deps.config();
      const rec = await readUpSession(deps, loaded);
      const plan = { project: projectName(loaded), running: !!rec && !rec.stale, pid: rec?.pid, stale: !!rec?.stale };
      if (deps.global.json) deps.io.out.write(JSON.stringify({ plan }) + "\n");
      else deps.io.out.write(plan.running ? `would stop ${plan.project} (supervisor pid ${plan.pid}) in reverse dependency order\n` : plan.stale ? `would remove the record of a crashed devx up of ${plan.project} and stop what it left behind\n` : `devx up is not running for ${plan.project}: nothing to stop\n`);
      return 0;
    }
    const { downUp } = await import("../../core/up/down.ts");
    const r = await downUp(deps, { dryRun: deps.global.dryRun });
    const dry = deps.global.dryRun;
    if (deps.global.json) deps.io.out.write(JSON.stringify({ ...r, dryRun: dry || undefined }) + "\n");
    else if (!r.running) {
      const left = r.leftovers ?? [];
      deps.io.err.write(`devx up is not running for ${r.project}${r.staleRemoved ? " (removed the record of a crashed run)" : ""}\n`);
      if (left.length) deps.io.err.write(`${dry ? "would stop" : "stopped"} what the crashed run left behind: ${left.join(", ")}\n`);
    } else if (dry) deps.io.err.write(`would stop ${r.project} (supervisor pid ${r.pid}) and every node it runs\n`);
    else deps.io.err.write(`stopped ${r.project} (supervisor pid ${r.pid}) in ${r.ms} ms\n`);
    return 0;
  },
});
