import * as v from "valibot";
import { formatBytes } from "../../../events/format.ts";
import { arg, defineCommand, flag, list, option } from "../../define.ts";
import { UsageError } from "../../../errors.ts";
import { detach, kubeArgs, kubeFlags, liveTable, reportReady, untilStopped } from "./background.ts";

export default defineCommand({
  path: ["bridge", "intercept"],
  group: "Kubernetes & hybrid",
  dryRun: "plan",
  summary: "send a cluster Service's traffic to your machine (or a copy of it with --mirror)",
  description:
    "Checks the Service and your permissions (nothing is created if one is missing), runs a small agent Job next to\n" +
    "it, points the Service's selector at the agent and tunnels each connection to 127.0.0.1:<host port>, per\n" +
    "Service port. If this process dies, the agent restores the Service after the grace period by itself; if it\n" +
    "comes back sooner, the tunnel resumes. --mirror keeps the real pods answering and sends you a copy.",
  examples: ["devx bridge intercept api", "devx bridge intercept api --port http:3000 --port grpc:9090", "devx bridge intercept api --mirror --grace 10s --detach"],
  options: v.object({
    service: arg("the Service to intercept", { placeholder: "service" }),
    port: list("Service port → host port, remote[:local] (default: the same number)", { placeholder: "remote[:local]" }),
    mirror: flag("keep the Service's pods; receive a copy of each request (your replies are discarded)"),
    grace: option("how long the agent waits for a vanished CLI before restoring the Service (default bridge.grace_period, 30s)", { placeholder: "duration" }),
    detach: flag("keep running in the background; `devx bridge status` and `disconnect` act on it"),
    ...kubeFlags,
  }),
  async run(opts, deps) {
    const { parseDuration } = await import("../../../config/duration.ts");
    const graceMs = opts.grace === undefined ? undefined : parseDuration(opts.grace);
    if (opts.grace !== undefined && graceMs === undefined) throw new UsageError(`bad --grace "${opts.grace}"`, "use a duration such as 30s or 2m");
    const req = { service: opts.service, ports: opts.port, mirror: opts.mirror, graceMs, context: opts.context, namespace: opts.namespace };
    if (opts.dryRun) {
      // the same plan the real run executes (preflight included), printed instead of applied
      const { bridgeSettings } = await import("../../../core/bridge/settings.ts");
      const { planIntercept, planSummary } = await import("../../../core/bridge/intercept.ts");
      const plan = await planIntercept(await bridgeSettings(deps, opts), req);
      deps.io.out.write(JSON.stringify(planSummary(plan), null, 2) + "\n");
      return 0;
    }
    if (opts.detach) {
      const d = await detach(deps, "intercept", ["bridge", "intercept", opts.service, ...opts.port.flatMap((p) => ["--port", p]), ...(opts.mirror ? ["--mirror"] : []), ...(opts.grace !== undefined ? ["--grace", opts.grace] : []), ...kubeArgs(opts)]);
      if (deps.global.json) deps.io.out.write(JSON.stringify({ session: d.session, pid: d.pid, log: d.log }) + "\n");
      else deps.io.err.write(`intercepting ${opts.service} in the background (session ${d.session}, pid ${d.pid}); \`devx bridge disconnect\` ends it\n`);
      return 0;
    }
    const { runIntercept } = await import("../../../core/bridge/intercept.ts");
    const h = await runIntercept(deps, req);
    await reportReady(deps, h.session);
    const r = h.record;
    if (deps.global.json) deps.io.out.write(JSON.stringify({ session: h.session, namespace: r.namespace, service: r.service, mirror: r.mirror, ports: r.ports, phases: r.phases }) + "\n");
    else deps.io.err.write(`${r.mirror ? "mirroring" : "intercepting"} ${r.namespace}/${r.service}: ${r.ports.map((p) => `${p.name} → 127.0.0.1:${p.hostPort}`).join(", ")} (ready in ${r.phases.total} ms; Ctrl-C restores it)\n`);
    const stopTable = liveTable(
      deps,
      () => {
        const st = h.stats();
        return [[r.service, r.agentPod ?? "-", st?.up ? "up" : "down", String(st?.active ?? 0), String(st?.connections ?? 0), formatBytes(st?.bytesIn ?? 0), formatBytes(st?.bytesOut ?? 0), String(st?.reconnects ?? 0)]];
      },
      ["SERVICE", "AGENT", "TUNNEL", "ACTIVE", "CONNS", "IN", "OUT", "RECONNECTS"],
      [0, 1, 2],
    );
    const why = await untilStopped(deps.signal, h.ended);
    stopTable();
    if (why !== "signal") deps.emit({ type: "warning", message: `the intercept ended: ${why}`, hint: "the agent restores the Service by itself; run the intercept again to resume" });
    deps.emit({ type: "step", id: "restore", title: `restore ${r.service}`, status: "started" });
    await h.stop();
    deps.emit({ type: "step", id: "restore", title: `restore ${r.service}`, status: "done" });
    return why === "signal" ? 0 : 1;
  },
});
