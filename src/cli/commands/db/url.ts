import * as v from "valibot";
import { arg, defineCommand, flag } from "../../define.ts";
import { NotFoundError } from "../../../errors.ts";

export default defineCommand({
  path: ["db", "url"],
  group: "Local infrastructure",
  dryRun: "read-only",
  summary: "print a database's connection URL (password included, on stdout only)",
  description:
    "Prints the URL with its password so that `psql \"$(devx db url postgres)\"` works. With --json the password\n" +
    "is masked unless --reveal is given, and the connection env (<NAME>_URL, _HOST, _PORT) is included.",
  examples: ['psql "$(devx db url postgres)"', "devx db url cache --json", "devx db url redis --json --reveal"],
  options: v.object({
    target: arg("engine or database name", { placeholder: "engine|name", complete: "databases" }),
    reveal: flag("include the password in --json output"),
  }),
  async run(opts, deps) {
    const { dbContext } = await import("../../../core/db/db-context.ts");
    const { requireDatabase, connectionEnv, maskUrl } = await import("../../../core/db/databases.ts");
    const ctx = await dbContext(deps);
    const db = await requireDatabase(ctx, opts.target);
    if (!db.url) throw new NotFoundError(`the credentials of ${db.name} are not stored here`, `\`devx db rm ${db.name} --volume\` and spawn it again to generate new ones`);
    if (!deps.global.json) {
      deps.io.out.write(db.url + "\n");
      if (db.state !== "running") deps.io.err.write(`note: ${db.name} is ${db.state}; start it with \`devx db restart ${db.name}\`\n`);
      return 0;
    }
    const mask = (s: string) => (opts.reveal ? s : (maskUrl(s) ?? s));
    const env = Object.fromEntries(Object.entries(connectionEnv(db)).map(([k, val]) => [k, mask(val)]));
    deps.io.out.write(JSON.stringify({ name: db.name, engine: db.engine, state: db.state, host: db.host, port: db.port, url: mask(db.url), env }, null, 2) + "\n");
    return 0;
  },
});
