import * as v from "valibot";
import { defineCommand } from "../../define.ts";

export default defineCommand({
  path: ["state", "undo"],
  group: "Orchestration & state",
  dryRun: "plan",
  summary: "return to the restore point taken before the last attach or restore",
  description: "Applies the newest restore point (containers from their checkpoints, volumes from their exports) and removes\nwhat the attach added. Repeat to go further back.",
  examples: ["devx state undo", "devx state undo --dry-run"],
  options: v.object({}),
  async run(_opts, deps) {
    const { planOnce, stateDeps } = await import("./state-deps.ts");
    const { undo } = await import("../../../core/state/restore.ts");
    const { describePlan } = await import("../../../core/state/apply.ts");
    const { sd, confirm } = planOnce(await stateDeps(deps), deps);
    const r = await undo(sd, { dryRun: deps.global.dryRun, confirm });
    if (deps.global.json) deps.io.out.write(JSON.stringify({ applied: r.applied, source: r.source, plan: r.plan }, null, 2) + "\n");
    else if (!r.applied) deps.io.out.write(`would return to the state before ${r.source}:\n${describePlan(r.plan!).join("\n")}\n`);
    else deps.io.out.write(`returned to the state before ${r.source}\n`);
    return 0;
  },
});
