import * as v from "valibot";
import { defineCommand, number, option, optionalArg } from "../../define.ts";
import { ENGINES } from "../../../config/schema.ts";
import { parseDuration } from "../../../config/duration.ts";
import { UsageError } from "../../../errors.ts";

export default defineCommand({
  path: ["db", "spawn"],
  group: "Local infrastructure",
  dryRun: "plan",
  summary: "start a database container (postgres, redis, mysql, mongo) and wait until it answers",
  description:
    "Starts the engine's image (devx.yaml `databases[].image`, or the official image) with a named volume and\n" +
    "generated credentials (stored 0600 under the state dir, passed to the container in a 0600 env file removed once\n" +
    "it started), publishes it on 127.0.0.1 (a busy default port shifts to the next free one), then waits for a real\n" +
    "query. A spawn that fails before the database starts (an image that cannot be pulled, a busy --port) leaves\n" +
    "no container, volume or credentials behind; a volume that existed before is never removed.\n" +
    "Running it again reuses the running database. Without an argument, starts every database in devx.yaml.",
  examples: ["devx db spawn postgres", "devx db spawn redis --name cache --port 6380", "devx db spawn postgres --image docker.io/library/postgres:15", "devx db spawn"],
  options: v.object({
    target: optionalArg(`engine (${ENGINES.join(", ")}) or a database name from devx.yaml`, { placeholder: "engine|name", complete: "db-engines" }),
    name: option("name of the database within the project (default: the engine)", { placeholder: "name" }),
    port: number("host port on 127.0.0.1 (busy → error; without it a busy default shifts)", { min: 1, max: 65535, placeholder: "port" }),
    image: option("container image (default: devx.yaml, else the official image)", { placeholder: "image" }),
    timeout: option("how long to wait until it is ready", { placeholder: "duration" }),
  }),
  async run(opts, deps) {
    const { dbContext } = await import("../../../core/db/db-context.ts");
    const { resolveDb, spawnDatabase } = await import("../../../core/db/spawn.ts");
    const { publicInfo } = await import("../../../core/db/databases.ts");
    const timeoutMs = opts.timeout === undefined ? undefined : parseDuration(opts.timeout);
    if (opts.timeout !== undefined && timeoutMs === undefined) throw new UsageError(`invalid --timeout "${opts.timeout}"`, 'use a duration like "90s" or "2m"');
    const ctx = await dbContext(deps);

    const isEngine = (s: string | undefined): s is (typeof ENGINES)[number] => !!s && (ENGINES as readonly string[]).includes(s);
    let requests: Array<{ engine?: (typeof ENGINES)[number]; name?: string }>;
    if (opts.target) requests = [isEngine(opts.target) ? { engine: opts.target, name: opts.name } : { name: opts.target }];
    else {
      if (!ctx.configured.length) throw new UsageError("name an engine to spawn: there are no databases in devx.yaml", `devx db spawn ${ENGINES.join("|")}`);
      if (opts.name || opts.port || opts.image) throw new UsageError("--name, --port and --image apply to one database", "name the engine or database too");
      requests = ctx.configured.map((d) => ({ engine: d.engine, name: d.name }));
    }
    const reqs = requests.map((r) => ({ ...r, image: opts.image, port: opts.port, portExplicit: opts.port !== undefined, timeoutMs }));

    if (opts.dryRun) {
      const plan = reqs.map((r) => {
        const d = resolveDb(ctx, r);
        return { name: d.name, engine: d.engine, image: d.image, container: d.container, volume: d.volume, port: d.port, project: ctx.project };
      });
      if (deps.global.json) deps.io.out.write(JSON.stringify({ plan }) + "\n");
      else for (const p of plan) deps.io.out.write(`would start ${p.name === p.engine ? p.name : `${p.engine} ${p.name}`} from ${p.image} as container ${p.container}, volume ${p.volume}, on 127.0.0.1:${p.port}\n`);
      return 0;
    }

    // one after another: concurrent port probing could hand the same free port to two databases
    for (const r of reqs) {
      const db = await spawnDatabase(ctx, r);
      if (deps.global.json) deps.io.out.write(JSON.stringify({ type: "database", reused: db.reused, ...publicInfo(db) }) + "\n");
      else deps.io.out.write(`${db.name === db.engine ? db.name : `${db.engine} ${db.name}`} ${db.reused ? "already running" : "ready"} on ${db.host}:${db.port} (container ${db.container}, volume ${db.volume ?? "-"})\n  url: devx db url ${db.name}\n`);
    }
    return 0;
  },
});
