import * as v from "valibot";
import { defineCommand, flag } from "../../define.ts";

export default defineCommand({
  path: ["db", "ls"],
  group: "Local infrastructure",
  dryRun: "read-only",
  summary: "list the project's databases (from the container runtime's labels)",
  examples: ["devx db ls", "devx db ls --json | jq -r '.databases[].name'", "devx db ls --all-projects"],
  options: v.object({
    allProjects: flag("list the databases of every project, not only this one"),
  }),
  async run(opts, deps) {
    const { dbContext } = await import("../../../core/db/db-context.ts");
    const { listDatabases, publicInfo } = await import("../../../core/db/databases.ts");
    const ctx = await dbContext(deps);
    const dbs = await listDatabases(ctx, { allProjects: opts.allProjects, volumes: true });
    if (deps.global.json) {
      deps.io.out.write(JSON.stringify({ project: opts.allProjects ? null : ctx.project, databases: dbs.map(publicInfo) }, null, 2) + "\n");
      return 0;
    }
    if (!dbs.length) {
      deps.io.err.write(`no databases in project ${ctx.project}; start one with \`devx db spawn postgres\`\n`);
      return 0;
    }
    const rows = [
      [...(opts.allProjects ? ["PROJECT"] : []), "NAME", "ENGINE", "STATE", "PORT", "IMAGE", "VOLUME"],
      ...dbs.map((d) => [...(opts.allProjects ? [d.project] : []), d.name, d.engine, d.state, d.port ? `127.0.0.1:${d.port}` : "-", d.image || "-", d.volume ?? "-"]),
    ];
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows) deps.io.out.write(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 2))).join("") + "\n");
    return 0;
  },
});
