import * as v from "valibot";
import { formatBytes, plural } from "../../../events/format.ts";
import { defineCommand } from "../../define.ts";

export default defineCommand({
  path: ["bridge", "status"],
  group: "Kubernetes & hybrid",
  dryRun: "read-only",
  summary: "show this machine's forwards and intercepts (agent phase, tunnel, traffic) and orphans in the cluster",
  examples: ["devx bridge status", "devx bridge status --json | jq '.intercepts[] | select(.tunnel == \"down\")'"],
  options: v.object({}),
  async run(_opts, deps) {
    const { bridgeStatus } = await import("../../../core/bridge/status.ts");
    const s = await bridgeStatus(deps, { orphans: true });
    if (deps.global.json) {
      deps.io.out.write(JSON.stringify(s, null, 2) + "\n");
      return 0;
    }
    const table = (header: string[], rows: string[][]) => {
      const all = [header, ...rows];
      const w = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
      return all.map((r) => r.map((c, i) => c.padEnd(w[i]!)).join("  ").trimEnd()).join("\n") + "\n";
    };
    const out: string[] = [];
    if (s.forwards.length)
      out.push(
        "Forwards\n" +
          table(
            ["SERVICE", "NAMESPACE", "HOST", "POD", "STATE", "CONNS", "IN", "OUT", "SESSION"],
            s.forwards.map((f) => [`${f.service}:${f.port}`, f.namespace, `127.0.0.1:${f.hostPort}`, f.pod ?? "-", f.alive ? f.state : "dead (stale record)", String(f.connections), formatBytes(f.bytesIn), formatBytes(f.bytesOut), f.session]),
          ),
      );
    if (s.intercepts.length)
      out.push(
        "Intercepts\n" +
          table(
            ["SERVICE", "NAMESPACE", "MODE", "PORTS", "AGENT", "PHASE", "TUNNEL", "CONNS", "IN", "OUT", "SESSION"],
            s.intercepts.map((i) => [i.service, i.namespace, i.mirror ? "mirror" : "intercept", i.ports.map((p) => `${p.name}→${p.hostPort}`).join(","), i.agentPod ?? "-", i.agentPhase ?? "-", i.alive ? i.tunnel : "down (CLI gone)", String(i.stats?.connections ?? 0), formatBytes(i.stats?.bytesIn ?? 0), formatBytes(i.stats?.bytesOut ?? 0), i.session]),
          ),
      );
    if (!out.length) out.push("no forwards or intercepts on this machine\n");
    if (s.orphans.length) out.push(`! ${plural(s.orphans.length, "orphaned intercept session")} in the cluster: ${s.orphans.map((o) => `${o.namespace}/${o.session}`).join(", ")} — \`devx bridge cleanup\` removes them\n`);
    if (s.orphanError) deps.emit({ type: "warning", message: `could not look for orphans: ${s.orphanError}` });
    deps.io.out.write(out.join("\n"));
    return 0;
  },
});
