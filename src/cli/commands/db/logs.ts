import * as v from "valibot";
import { arg, defineCommand, flag, number } from "../../define.ts";

export default defineCommand({
  path: ["db", "logs"],
  group: "Local infrastructure",
  dryRun: "read-only",
  summary: "print a database's logs (--follow keeps printing them)",
  examples: ["devx db logs postgres", "devx db logs cache --follow --tail 20"],
  options: v.object({
    target: arg("engine or database name", { placeholder: "engine|name", complete: "databases" }),
    follow: flag("keep printing new lines until Ctrl-C (-f is --file, as everywhere)", { short: "F" }),
    tail: number("only the last N lines", { min: 0, placeholder: "N" }),
  }),
  async run(opts, deps) {
    const { dbContext } = await import("../../../core/db/db-context.ts");
    const { requireDatabase } = await import("../../../core/db/databases.ts");
    const ctx = await dbContext(deps);
    const db = await requireDatabase(ctx, opts.target);
    const lines = ctx.runtime.logs(db.container, { follow: opts.follow, tail: opts.tail })[Symbol.asyncIterator]();
    // Ctrl-C kills the runtime's `logs -f` child (dbContext's exec), which ends the stream
    const aborted = new Promise<"aborted">((resolve) => (deps.signal.aborted ? resolve("aborted") : deps.signal.addEventListener("abort", () => resolve("aborted"), { once: true })));
    try {
      for (;;) {
        const next = await Promise.race([lines.next(), aborted]);
        if (next === "aborted" || next.done) break;
        deps.io.out.write(deps.global.json ? JSON.stringify({ type: "log", source: db.name, line: next.value }) + "\n" : next.value + "\n");
      }
    } catch (e) {
      if (!deps.signal.aborted) throw e;
    } finally {
      await lines.return?.().catch(() => {});
    }
    return 0;
  },
});
