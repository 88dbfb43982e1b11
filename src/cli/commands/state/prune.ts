import * as v from "valibot";
import { defineCommand, number } from "../../define.ts";

export default defineCommand({
  path: ["state", "prune"],
  group: "Orchestration & state",
  dryRun: "plan",
  summary: "remove restore points beyond the newest few, and what interrupted runs left behind",
  description:
    "Each attach and restore keeps a restore point (what it replaced), so `devx state undo` can go back. They are\n" +
    "never removed on their own: one may hold the only copy of a volume's earlier content. This removes all but the\n" +
    "newest --keep (default 3), after showing them; `--dry-run` only shows.",
  examples: ["devx state prune", "devx state prune --keep 0 -y", "devx state prune --dry-run --json"],
  options: v.object({ keep: number("restore points to keep, newest first", { min: 0, default: 3, placeholder: "n" }) }),
  async run(opts, deps) {
    const { prunePlan, prune } = await import("../../../core/state/local.ts");
    const keep = opts.keep ?? 3;
    const plan = await prunePlan(deps.paths.state, keep);
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
    const lines = [...plan.restorePoints.map((r) => `  remove restore point ${r.name} (${mib(r.bytes)}), taken before ${r.source}`), ...(plan.leftovers.length ? [`  remove ${plan.leftovers.length} leftover${plan.leftovers.length === 1 ? "" : "s"} of interrupted runs`] : [])];
    if (lines.length === 0) {
      deps.io.out.write(deps.global.json ? JSON.stringify({ removed: [], bytes: 0 }) + "\n" : "nothing to prune\n");
      return 0;
    }
    if (deps.global.dryRun || !deps.global.json) deps.io.err.write(`${deps.global.dryRun ? "would free" : "frees"} ${mib(plan.bytes)}:\n${lines.join("\n")}\n`);
    if (deps.global.dryRun) {
      if (deps.global.json) deps.io.out.write(JSON.stringify({ dryRun: true, restorePoints: plan.restorePoints, leftovers: plan.leftovers, bytes: plan.bytes }, null, 2) + "\n");
      return 0;
    }
    const n = plan.restorePoints.length;
    await deps.confirm(n > 0 ? `Remove ${n} restore point${n === 1 ? "" : "s"}? \`devx state undo\` cannot go back past ${n === 1 ? "it" : "them"}.` : "Remove the leftovers of interrupted runs?");
    const { stateDeps } = await import("./state-deps.ts");
    const done = await prune(await stateDeps(deps), keep);
    deps.io.out.write(deps.global.json ? JSON.stringify({ restorePoints: done.restorePoints, leftovers: done.leftovers, bytes: done.bytes }, null, 2) + "\n" : `freed ${mib(done.bytes)}\n`);
    return 0;
  },
});
