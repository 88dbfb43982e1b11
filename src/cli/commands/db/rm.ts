import * as v from "valibot";
import { arg, defineCommand, flag } from "../../define.ts";

export default defineCommand({
  path: ["db", "rm"],
  group: "Local infrastructure",
  dryRun: "plan",
  summary: "remove a database container; with --volume also its data and stored credentials",
  description: "Without --volume the data stays in the named volume and the next `devx db spawn` picks it up again.\nDeleting the volume asks first (-y answers yes; without a terminal -y is required).",
  examples: ["devx db rm postgres", "devx db rm cache --volume -y", "devx db rm postgres --volume --dry-run"],
  options: v.object({
    target: arg("engine or database name", { placeholder: "engine|name", complete: "databases" }),
    volume: flag("also delete the volume (all data) and the stored credentials"),
  }),
  async run(opts, deps) {
    const { dbContext } = await import("../../../core/db/db-context.ts");
    const { planRemove, removeDatabase } = await import("../../../core/db/databases.ts");
    const ctx = await dbContext(deps);
    const plan = await planRemove(ctx, opts.target, { volume: opts.volume });
    const what = [plan.container && `container ${plan.container}`, plan.volume && `volume ${plan.volume}`, plan.credentials && "stored credentials"].filter(Boolean).join(", ");
    if (opts.dryRun) {
      deps.io.out.write(deps.global.json ? JSON.stringify({ plan }) + "\n" : `would remove ${what}\n`);
      return 0;
    }
    if (plan.volume) await deps.confirm(`Delete volume ${plan.volume} and all data of ${plan.name}?`);
    await removeDatabase(ctx, plan);
    if (deps.global.json) deps.io.out.write(JSON.stringify({ removed: plan }) + "\n");
    else deps.io.out.write(`removed ${what}${plan.volume ? "" : ` (data kept in its volume; --volume deletes it)`}\n`);
    return 0;
  },
});
