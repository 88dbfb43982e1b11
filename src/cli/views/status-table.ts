import { formatDuration } from "../../events/format.ts";
import type { NodeStatus } from "../../core/up/supervisor.ts";
import { painter } from "../../text/style.ts";

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
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[], colorState: boolean) =>
    r.map((cell, i) => (i === 2 && colorState ? c(STATE_COLOR[cell], cell.padEnd(widths[i]!)) : cell.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(head, false), ...rows.map((r) => line(r, true))].join("\n") + "\n";
}
