import * as v from "valibot";
import { formatBytes } from "../../../events/format.ts";
import { defineCommand, flag, list } from "../../define.ts";
import { detach, kubeArgs, kubeFlags, liveTable, reportReady, untilStopped } from "./background.ts";

export default defineCommand({
  path: ["bridge", "connect"],
  group: "Kubernetes & hybrid",
  dryRun: "plan",
  summary: "forward cluster Services to ports on 127.0.0.1, following pod restarts",
  description:
    "Each target Service gets a listener on 127.0.0.1 (the Service port unless given); every connection is\n" +
    "port-forwarded to a ready pod of the Service, and a pod restart is followed as soon as the replacement is\n" +
    "Ready. BRIDGE_<SVC>_URL/_HOST/_PORT are written to the bridge env file (`devx bridge env`). Targets also\n" +
    "come from bridge.targets in devx.yaml. Runs in the foreground with a live table; --detach leaves it running.",
  examples: ["devx bridge connect -t api -t postgres:5432:15432", "devx bridge connect -t api:http --auto-port --detach", "devx bridge connect -n staging --context prod-eu -t redis"],
  options: v.object({
    target: list("service[:port[:host port]] to forward", { short: "t", placeholder: "svc[:port[:local]]" }),
    autoPort: flag("when a host port is busy, use the next free one (and say so) instead of failing"),
    detach: flag("keep running in the background; `devx bridge status` and `disconnect` act on it"),
    ...kubeFlags,
  }),
  async run(opts, deps) {
    const { parseTarget, runConnect } = await import("../../../core/bridge/connect.ts");
    const { bridgeSettings } = await import("../../../core/bridge/settings.ts");
    const specs = opts.target.length ? opts.target : (await deps.findConfig())?.config.bridge?.targets ?? [];
    const targets = specs.map(parseTarget);
    if (opts.dryRun) {
      deps.io.out.write(JSON.stringify({ plan: "connect", targets }, null, 2) + "\n");
      return 0;
    }
    if (opts.detach) {
      const d = await detach(deps, "connect", ["bridge", "connect", ...opts.target.flatMap((t) => ["--target", t]), ...(opts.autoPort ? ["--auto-port"] : []), ...kubeArgs(opts)]);
      if (deps.global.json) deps.io.out.write(JSON.stringify({ session: d.session, pid: d.pid, log: d.log }) + "\n");
      else deps.io.err.write(`connected in the background (session ${d.session}, pid ${d.pid}); \`devx bridge status\`, \`devx bridge disconnect\`\n`);
      return 0;
    }
    const autoPort = opts.autoPort || (await bridgeSettings(deps, { context: opts.context, namespace: opts.namespace }).then((s) => s.autoPort, () => false));
    const h = await runConnect(deps, targets, { context: opts.context, namespace: opts.namespace, autoPort });
    await reportReady(deps, h.session);
    if (deps.global.json) deps.io.out.write(JSON.stringify({ session: h.session, forwards: h.forwards, env: h.env }) + "\n");
    const stopTable = liveTable(
      deps,
      () => h.forwards.map((f) => [`${f.service}:${f.port}`, `127.0.0.1:${f.hostPort}`, f.pod ?? "-", f.state, String(f.active), String(f.connections), formatBytes(f.bytesIn), formatBytes(f.bytesOut)]),
      ["SERVICE", "HOST", "POD", "STATE", "ACTIVE", "CONNS", "IN", "OUT"],
      [0, 1, 2, 3],
    );
    await untilStopped(deps.signal);
    stopTable();
    await h.stop();
    return 0;
  },
});
