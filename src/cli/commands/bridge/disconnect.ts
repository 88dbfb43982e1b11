import * as v from "valibot";
import { defineCommand, option, optionalArg } from "../../define.ts";

export default defineCommand({
  path: ["bridge", "disconnect"],
  group: "Kubernetes & hybrid",
  dryRun: "plan",
  summary: "stop forwards and intercepts started on this machine, restoring every Service",
  description: "Signals the background processes (they restore and clean up), and cleans up after any that died.\nWith a service name, only sessions for that Service.",
  examples: ["devx bridge disconnect", "devx bridge disconnect api", "devx bridge disconnect --session 3fa9c01b"],
  options: v.object({
    service: optionalArg("only sessions for this Service", { placeholder: "service" }),
    session: option("only this session id", { placeholder: "id" }),
  }),
  async run(opts, deps) {
    const { disconnect } = await import("../../../core/bridge/status.ts");
    if (opts.dryRun) {
      const { bridgeStatus } = await import("../../../core/bridge/status.ts");
      const s = await bridgeStatus(deps);
      deps.io.out.write(JSON.stringify({ plan: "disconnect", forwards: s.forwards.map((f) => f.session), intercepts: s.intercepts.map((i) => i.session) }, null, 2) + "\n");
      return 0;
    }
    const done = await disconnect(deps, { service: opts.service, session: opts.session });
    if (deps.global.json) deps.io.out.write(JSON.stringify({ disconnected: done }) + "\n");
    else deps.io.err.write(done.length ? done.map((d) => `disconnected ${d}\n`).join("") : "nothing to disconnect\n");
    return 0;
  },
});
