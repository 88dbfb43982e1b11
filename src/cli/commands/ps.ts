import * as v from "valibot";
import { defineCommand } from "../define.ts";

export default defineCommand({
  path: ["ps"],
  group: "Orchestration & state",
  dryRun: "read-only",
  summary: "show the nodes of the running `devx up`: state, health, port, restarts, uptime",
  examples: ["devx ps", "devx ps --json | jq '.nodes[] | select(.health != \"healthy\")'"],
  options: v.object({}),
  async run(_opts, deps) {
    const { servicesStatus } = await import("../../core/up/session.ts");
    const { statusTable } = await import("../views/status-table.ts");
    const st = await servicesStatus(deps);
    if (deps.global.json) {
      deps.io.out.write(JSON.stringify(st, null, 2) + "\n");
      return 0;
    }
    if (!st.running) {
      deps.io.err.write("devx up is not running for this project (start it with `devx up` or `devx up --detach`)\n");
      return 0;
    }
    deps.io.out.write(statusTable(st.nodes, deps.io.color && deps.io.out.isTTY));
    return 0;
  },
});
