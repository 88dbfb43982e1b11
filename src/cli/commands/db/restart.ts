import * as v from "valibot";
import { arg, defineCommand, option } from "../../define.ts";
import { parseDuration } from "../../../config/duration.ts";
import { UsageError } from "../../../errors.ts";

export default defineCommand({
  path: ["db", "restart"],
  group: "Local infrastructure",
  dryRun: "plan",
  summary: "restart a database (data kept in its volume) and wait until it answers",
  examples: ["devx db restart postgres", "devx db restart cache --timeout 2m"],
  options: v.object({
    target: arg("engine or database name", { placeholder: "engine|name", complete: "databases" }),
    timeout: option("how long to wait until it is ready", { placeholder: "duration" }),
  }),
  async run(opts, deps) {
    const { dbContext } = await import("../../../core/db/db-context.ts");
    const { requireDatabase, restartDatabase, publicInfo } = await import("../../../core/db/databases.ts");
    const timeoutMs = opts.timeout === undefined ? undefined : parseDuration(opts.timeout);
    if (opts.timeout !== undefined && timeoutMs === undefined) throw new UsageError(`invalid --timeout "${opts.timeout}"`, 'use a duration like "90s" or "2m"');
    const ctx = await dbContext(deps);
    if (opts.dryRun) {
      const db = await requireDatabase(ctx, opts.target);
      deps.io.out.write(deps.global.json ? JSON.stringify({ plan: { restart: db.container } }) + "\n" : `would restart ${db.container}\n`);
      return 0;
    }
    // the wait is shown as it starts; the outcome is the result line below, said once
    deps.emit({ type: "step", id: `db:${opts.target}`, title: `restart ${opts.target} and wait until it answers`, status: "started" });
    const db = await restartDatabase(ctx, opts.target, timeoutMs);
    if (deps.global.json) deps.io.out.write(JSON.stringify({ type: "database", ...publicInfo(db) }) + "\n");
    else deps.io.out.write(`${db.engine} ${db.name} ready on ${db.host}:${db.port}\n`);
    return 0;
  },
});
