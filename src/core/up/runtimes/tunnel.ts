import type { CoreDeps } from "../../deps.ts";
import { envName } from "../env.ts";
import type { NodeRuntime, Running, StartContext } from "./types.ts";

/**
 * `tunnels:` of devx.yaml as nodes: once the service is healthy, its resolved host port is exposed
 * through the VM's Cloudflare tunnel (`devx tunnel expose`); stopping the node unexposes it.
 * Exposes `TUNNEL_<NAME>_URL` (the public https URL).
 */
export function tunnelRuntime(deps: CoreDeps): NodeRuntime {
  return {
    async start(ctx: StartContext): Promise<Running> {
      const t = ctx.node.tunnel!;
      const [{ expose, unexpose }, { resolveSecret }] = await Promise.all([import("../../tunnel/expose.ts"), import("../../vm/secrets.ts")]);
      const password = t.basic_auth ? await resolveSecret(t.basic_auth.password, deps.env, `tunnel ${t.name} basic_auth.password`) : undefined;
      const e = await expose(deps, { port: ctx.port!, name: t.name, domain: t.domain, basicAuth: t.basic_auth && password ? { user: t.basic_auth.user, password } : undefined });
      ctx.line(`exposed http://127.0.0.1:${ctx.port} at ${e.url}`, "stdout");
      let ended!: (code: number) => void;
      const exited = new Promise<number>((r) => (ended = r));
      return {
        exited,
        selfHealthy: true,
        exposed: { env: { [`TUNNEL_${envName(t.name)}_URL`]: e.url }, url: e.url },
        async stop() {
          await unexpose(deps, { name: e.name, domain: t.domain }).catch((err: Error) => ctx.line(`unexpose failed: ${err.message}`, "stderr"));
          ended(0);
        },
        async exec() {
          return 0;
        },
      };
    },
  };
}
