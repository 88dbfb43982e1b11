import * as v from "valibot";
import { defineCommand, flag, variadicArg } from "../define.ts";

export default defineCommand({
  path: ["up"],
  group: "Orchestration & state",
  dryRun: "plan",
  summary: "start the service graph: databases, host and container services, bridge and tunnel nodes",
  description:
    "Reads databases, services and tunnels from devx.yaml and starts them as one dependency graph: each node starts as soon\n" +
    "as its own depends_on conditions (service_started, service_healthy, service_completed_successfully) are met.\n" +
    "Host services run in their own process group with <DEP>_URL/_HOST/_PORT, DATABASE_URL and PORT injected; a\n" +
    "busy port is shifted to a free one (and said so). Health checks (http, tcp, exec; tcp by default for a node\n" +
    "with a port) pass as soon as the node answers, then run every interval (defaults: interval 2s, timeout 1s,\n" +
    "retries 15: a node gets start_period + interval × retries to become healthy). A tunnel exposes its service's\n" +
    "resolved port once that service is healthy. Ctrl-C or `devx down` stops everything\n" +
    "in reverse dependency order (SIGTERM, SIGKILL after stop_grace_period). Exit code 12 when a node does not\n" +
    "become healthy; everything started is stopped first.\n" +
    "`up -d` while the same config (profile, selection) runs is a no-op success; another config is a conflict (5).\n" +
    "`--dry-run` while up runs prints its plan on the ports it holds. When a previous `up` was killed without\n" +
    "stopping its nodes, what it left running is stopped first (as `devx down` and `devx doctor --fix` do).",
  examples: [
    "devx up",
    "devx up api --profile with-redis",
    "devx up --dry-run",
    "devx up --detach && devx ps",
    "devx up -f examples/quickstart/devx.yaml --exit-when-healthy",
  ],
  options: v.object({
    services: variadicArg("start only these nodes (and what they depend on)", { placeholder: "service", complete: "nodes" }),
    detach: flag("run under a background supervisor and return once everything is up", { short: "d" }),
    exitWhenHealthy: flag("bring everything up, print the status, then stop it all and exit (for scripts)"),
  }),
  async run(opts, deps) {
    const { runUp } = await import("../../core/up/run-up.ts");
    const { upRuntimes } = await import("../../core/up/runtimes/index.ts");
    const { SUPERVISOR_ENV } = await import("../../core/up/detach.ts");
    if (opts.detach && !opts.dryRun && !opts.exitWhenHealthy) {
      const { detachUp } = await import("../../core/up/detach.ts");
      const { statusTable } = await import("../views/status-table.ts");
      const r = await detachUp(deps, opts.services);
      if (deps.global.json) deps.io.out.write(JSON.stringify({ supervisor: r.pid, nodes: r.nodes, alreadyRunning: r.already ?? false }) + "\n");
      else {
        deps.io.out.write(statusTable(r.nodes, deps.io.color && deps.io.out.isTTY));
        deps.io.err.write(`${r.already ? "already running" : "supervisor running"} as pid ${r.pid}: \`devx ps\`, \`devx logs -f\`, \`devx down\`\n`);
      }
      return 0;
    }
    const { upView } = await import("../views/up-view.ts");
    const supervisor = deps.env[SUPERVISOR_ENV] === "1";
    return runUp(deps, { services: opts.services, exitWhenHealthy: opts.exitWhenHealthy, supervisor, runtimes: upRuntimes(deps), dryRun: deps.global.dryRun }, upView(deps, { supervisor }));
  },
});
