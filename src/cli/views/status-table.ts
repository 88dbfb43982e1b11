import { formatDuration } from "../../events/format.ts";
import type { NodeStatus } from "../../core/up/supervisor.ts";
import { painter } from "../../text/style.ts";
import { columns } from "./live-region.ts";

const STATE_COLOR: Record<string, string> = { healthy: "32", running: "32", completed: "90", starting: "36", pending: "90", restarting: "33", unhealthy: "31", failed: "31", stopping: "33", stopped: "90" };

/** The status table shared by `devx ps`, the live view of `devx up` and --exit-when-healthy. */
export function statusTable(nodes: NodeStatus[], color = false): string {
  const c = painter(color);
  const rows = nodes.map((n) => [
    n.name,
    n.kind === "database" ? "database" : n.runtime,
    n.state,
    n.health === "none" ? "-" : n.health,
    n.port === undefined ? "-" : n.configuredPort !== undefined && n.configuredPort !== n.port ? `${n.port} (was ${n.configuredPort})` : String(n.port),
    String(n.restarts),
    n.uptimeMs === undefined ? "-" : formatDuration(n.uptimeMs),
    n.dependsOn.map((d) => d.name).join(",") || "-",
  ]);
  const head = ["NAME", "RUNTIME", "STATE", "HEALTH", "PORT", "RESTARTS", "UPTIME", "DEPENDS ON"];
  return columns(head, rows, (padded, row, col) => (col === 2 ? c(STATE_COLOR[row[2]!], padded) : padded));
}
