import * as v from "valibot";
import { defineCommand } from "../../define.ts";

export default defineCommand({
  path: ["state", "recover"],
  group: "Orchestration & state",
  dryRun: "plan",
  summary: "finish what an interrupted attach, restore, undo, checkpoint or share left, and remove its leftovers",
  description:
    "Every state operation keeps a small journal while it runs. When devx was killed, lost power or had its lid\n" +
    "closed half-way, this returns the machine to exactly how it was before that command (or, where its apply had\n" +
    "finished, how it was after it): containers it stopped run again, a restore point it was applying is applied\n" +
    "back, an unfinished restore point and download are removed. Every state command does this first on its own;\n" +
    "`--dry-run` says what it would do.",
  examples: ["devx state recover", "devx state recover --dry-run"],
  options: v.object({}),
  async run(_opts, deps) {
    const { stateDeps } = await import("./state-deps.ts");
    const { recoverInterrupted, bytesUnder } = await import("../../../core/state/recover.ts");
    const sd = await stateDeps(deps);
    const dryRun = deps.global.dryRun;
    const r = await recoverInterrupted(sd, { dryRun });
    const bytes = dryRun ? await bytesUnder(r.swept) : undefined;
    if (deps.global.json) {
      deps.io.out.write(JSON.stringify({ dryRun, recovered: r.recovered, leftovers: r.swept, ...(bytes !== undefined ? { leftoverBytes: bytes } : {}) }, null, 2) + "\n");
      return 0;
    }
    const verb = dryRun ? "would" : "did";
    for (const x of r.recovered) deps.io.out.write(`${x.op} of ${x.source} (PID ${x.pid}, ${x.phase}): ${verb} ${x.actions.join("; ")}\n`);
    if (r.swept.length > 0) deps.io.out.write(`${dryRun ? "would remove" : "removed"} ${r.swept.length} leftover${r.swept.length === 1 ? "" : "s"} of interrupted runs${bytes !== undefined ? ` (${(bytes / 2 ** 20).toFixed(1)} MiB)` : ""}\n`);
    if (r.recovered.length === 0 && r.swept.length === 0) deps.io.out.write("nothing to recover\n");
    return 0;
  },
});
