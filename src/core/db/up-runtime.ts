import type { CoreDeps } from "../deps.ts";
import type { NodeRuntime, Running, StartContext } from "../up/runtimes/types.ts";
import { dbContext, type DbContext } from "./db-context.ts";
import { connectionEnv } from "./databases.ts";
import { spawnDatabase } from "./spawn.ts";
import type { Engine } from "./engines.ts";

/**
 * `databases:` nodes of `devx up`: the same spawn as `devx db spawn` (volume, generated
 * credentials, engine readiness probes), on the port `up` resolved. The node reports its own
 * readiness (`selfHealthy`), exposes `<NAME>_URL/_HOST/_PORT` and its URL (for DATABASE_URL), streams
 * the container's log lines, and is stopped — not removed — on teardown, so the next `up` is fast.
 */
export function databaseNodeRuntime(deps: CoreDeps, base?: Promise<DbContext>): NodeRuntime {
  let shared: Promise<DbContext> | undefined = base;
  return {
    async start(sc: StartContext): Promise<Running> {
      const ctx = { ...(await (shared ??= dbContext(deps))), signal: sc.signal };
      const cfg = sc.node.database;
      const engine = (cfg?.engine ?? sc.node.name) as Engine;
      const db = await spawnDatabase(ctx, { engine, name: sc.node.name, image: cfg?.image, port: sc.port, portExplicit: sc.port !== undefined });
      const runtime = ctx.runtime;

      // `logs -f` ends when the container stops: that is this node's exit
      const exited = (async () => {
        try {
          for await (const line of runtime.logs(db.container, { follow: true, tail: 0 })) sc.line(line, "stdout");
        } catch {
          /* the stream fails when the container is removed under us; the state below says how it ended */
        }
        const info = await runtime.inspectContainer(db.container).catch(() => undefined);
        return info?.state === "running" ? 0 : 1;
      })();

      return {
        exited,
        exposed: { env: connectionEnv(db), url: db.url },
        selfHealthy: true,
        async stop(graceMs: number) {
          const info = await runtime.inspectContainer(db.container);
          if (info?.state === "running") await runtime.stop(db.container, Math.max(1, Math.ceil(graceMs / 1000)));
        },
        async exec(argv: string[], timeoutMs: number) {
          return (await runtime.exec(db.container, argv, { timeoutMs })).code;
        },
      };
    },
  };
}
