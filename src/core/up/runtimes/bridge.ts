import type { BridgeDeps } from "../../bridge/settings.ts";
import { serviceExposed } from "../env.ts";
import type { NodeRuntime, Running, StartContext } from "./types.ts";

/**
 * `runtime: bridge` nodes: a connect (cluster Service → host port) or an intercept (cluster traffic
 * → this host) from the bridge core. Healthy once the forward/tunnel is live; stopped in reverse
 * dependency order like any node. A connect node exposes `<NAME>_URL/_HOST/_PORT` on its host port
 * plus the bridge's own env.
 */
export function bridgeRuntime(deps: BridgeDeps): NodeRuntime {
  return {
    async start(ctx: StartContext): Promise<Running> {
      const b = ctx.node.service!.bridge!;
      const bdeps: BridgeDeps = { ...deps, signal: ctx.signal };
      const sel = { namespace: b.namespace };
      const { startConnect, startIntercept } = await Promise.all([import("../../bridge/connect.ts"), import("../../bridge/intercept.ts")]).then(([c, i]) => ({ startConnect: c.startConnect, startIntercept: i.startIntercept }));
      const started =
        b.mode === "connect"
          ? startConnect(bdeps, [{ service: b.service, port: b.port === undefined ? undefined : String(b.port), local: b.local_port ?? ctx.port }], sel)
          : startIntercept(bdeps, { ...sel, service: b.service, ports: b.port !== undefined ? [ctx.port !== undefined ? `${b.port}:${ctx.port}` : String(b.port)] : undefined, mirror: b.mirror });
      await started.ready;
      let stopped!: () => void;
      const exited = new Promise<number>((r) => (stopped = () => r(0)));
      // an intercept ends on its own when its agent goes away
      void started.handle.then((h) => ("ended" in h ? h.ended.then(() => stopped()) : undefined)).catch(() => {});
      const forwards = await started.handle.then((h) => ("forwards" in h ? h.forwards : [])).catch(() => []);
      const hostPort = forwards[0]?.hostPort ?? ctx.port;
      return {
        exited,
        selfHealthy: true,
        exposed: { env: { ...serviceExposed(ctx.node, hostPort).env, ...started.env }, url: hostPort ? `http://127.0.0.1:${hostPort}` : undefined },
        async stop() {
          await started.stop();
          stopped();
        },
        async exec() {
          return 0;
        },
      };
    },
  };
}
