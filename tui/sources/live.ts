import type { Deps } from "../../src/cli/deps.ts";
import type { FollowUp, PaneData, PaneSource, Row } from "../types.ts";
import { tokenize } from "../palette.ts";
import { copyToClipboard } from "../clipboard.ts";
import { formatBytes } from "../../src/events/format.ts";

/**
 * Panes backed by the capabilities' own dashboard entry points in src/core (each module is loaded
 * when its pane is first shown, so the first frame never waits for an SDK).
 */

const gib = (mib?: number) => (mib === undefined ? "" : formatBytes(mib * 1024 * 1024));
const bytes = formatBytes;
const ago = (ms?: number) => {
  if (ms === undefined) return "";
  const s = Math.floor(ms / 1000);
  return s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m` : `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
};

export function vmSource(deps: Deps): PaneSource {
  return {
    id: "vms",
    title: "VMs",
    async load(): Promise<PaneData> {
      const { vmStatus } = await import("../../src/core/vm/index.ts");
      const s = await vmStatus(deps);
      const tailnet = s.tailnet.ipv4 ? `${s.tailnet.state} ${s.tailnet.ipv4}` : s.tailnet.state;
      return {
        kind: "rows",
        columns: [
          { key: "name", title: "NAME", priority: 3 },
          { key: "provider", title: "PROVIDER", priority: 2 },
          { key: "state", title: "STATE", priority: 3 },
          { key: "cpus", title: "CPUS" },
          { key: "memory", title: "MEMORY" },
          { key: "disk", title: "DISK" },
          { key: "tailnet", title: "TAILNET", priority: 1 },
          { key: "runtime", title: "RUNTIME" },
        ],
        rows: [
          {
            id: s.vm,
            cells: { name: s.vm, provider: `${s.provider.name} ${s.provider.version}`.trim(), state: s.state, cpus: s.cpus === undefined ? "" : String(s.cpus), memory: gib(s.memoryMiB), disk: s.diskGiB === undefined ? "" : `${s.diskGiB} GiB`, tailnet, runtime: `${s.runtime.kind} ${s.runtime.endpoint}` },
            tone: s.state === "running" ? "ok" : s.state === "starting" ? "warn" : s.state === "missing" || s.state === "unknown" ? "bad" : "dim",
          },
        ],
      };
    },
    actions: [
      { key: "s", title: "start", command: () => ["vm", "start"] },
      { key: "x", title: "stop", command: () => ["vm", "stop"], confirm: (row) => `Stop VM ${row?.id ?? "devx"}? Everything running in it stops.` },
      { key: "z", title: "sleep", command: () => ["vm", "sleep"], confirm: (row) => `Put VM ${row?.id ?? "devx"} to sleep? What runs in it pauses.` },
    ],
  };
}

export function tunnelsSource(deps: Deps): PaneSource {
  return {
    id: "tunnels",
    title: "Tunnels",
    // each load is several Cloudflare API calls: refresh slower than local panes
    refreshMs: 15_000,
    async load(): Promise<PaneData> {
      const { listTunnels } = await import("../../src/core/tunnel/index.ts");
      const r = await listTunnels(deps);
      return {
        kind: "rows",
        columns: [
          { key: "name", title: "NAME", priority: 2 },
          { key: "url", title: "URL", priority: 3 },
          { key: "service", title: "SERVICE", priority: 1 },
          { key: "live", title: "LIVE" },
          { key: "auth", title: "AUTH" },
        ],
        rows: r.exposures.map((e) => ({
          id: e.hostname,
          cells: { name: e.name, url: e.url, service: e.service ?? "", live: e.live ? "live" : e.ingress ? "no DNS" : "DNS only", auth: e.auth },
          tone: e.live ? "ok" : "warn",
        })),
        note: r.tunnel ? `tunnel ${r.tunnel.name} (${r.tunnel.status ?? "unknown"}) exposes nothing: devx tunnel expose <port>` : "no devx tunnel for this VM yet: devx tunnel expose <port>",
      };
    },
  };
}

export function bridgeSource(deps: Deps): PaneSource {
  let loads = 0;
  let orphans = 0;
  let lookingUp: Promise<void> | undefined;
  return {
    id: "bridge",
    title: "Bridge",
    async load(): Promise<PaneData> {
      const { bridgeStatus } = await import("../../src/core/bridge/status.ts");
      const bdeps = { env: deps.env, cwd: deps.cwd, paths: deps.paths, emit: deps.emit, signal: deps.signal, findConfig: deps.findConfig };
      // orphans (devx-labelled agents no session here owns) cost a cluster round trip: looked up
      // beside the rows, every 5th load, so a slow cluster never holds the pane; the badge follows
      if (loads++ % 5 === 0 && !lookingUp) {
        lookingUp = bridgeStatus(bdeps, { orphans: true })
          .then((o) => void (o.orphanError ? undefined : (orphans = o.orphans.length)), () => undefined)
          .finally(() => (lookingUp = undefined));
        if (loads === 1) await Promise.race([lookingUp, Bun.sleep(300)]);
      }
      const s = await bridgeStatus(bdeps);
      const rows: Row[] = [
        ...s.forwards.map((f): Row => ({
          id: `f:${f.session}:${f.namespace}/${f.service}:${f.port}`,
          cells: { mode: "connect", target: `${f.namespace}/${f.service}:${f.servicePort}`, host: `${f.host}:${f.hostPort}`, state: f.alive ? f.state : "dead", traffic: `${f.active}/${f.connections} conns ↓${bytes(f.bytesIn)} ↑${bytes(f.bytesOut)}`, session: f.session },
          tone: !f.alive ? "bad" : f.state === "ready" ? "ok" : "warn",
        })),
        ...s.intercepts.map((i): Row => ({
          id: `i:${i.session}`,
          cells: { mode: i.mirror ? "mirror" : "intercept", target: `${i.namespace}/${i.service}`, host: i.ports.map((p) => `${p.name}→${p.hostPort}`).join(" "), state: i.alive ? `tunnel ${i.tunnel}, agent ${i.agentPhase ?? "?"}` : "dead", traffic: i.stats ? `${i.stats.active}/${i.stats.connections} conns ↓${bytes(i.stats.bytesIn)} ↑${bytes(i.stats.bytesOut)}` : "", session: i.session },
          tone: !i.alive ? "bad" : i.tunnel === "up" ? "ok" : "warn",
        })),
      ];
      return {
        kind: "rows",
        columns: [
          { key: "mode", title: "MODE" },
          { key: "target", title: "CLUSTER", priority: 3 },
          { key: "host", title: "HOST", priority: 2 },
          { key: "state", title: "STATE", priority: 2 },
          { key: "traffic", title: "TRAFFIC" },
        ],
        rows,
        note: "no bridge sessions on this machine: devx bridge connect, or devx bridge intercept <service>",
        badge: orphans ? `${orphans} orphan${orphans === 1 ? "" : "s"} in the cluster (devx bridge cleanup)` : undefined,
      };
    },
    actions: [
      {
        key: "c",
        title: "connect",
        prompt: { title: "Services to forward (svc[:port[:local]] …)" },
        command: (_row, text) => ["bridge", "connect", "--detach", ...tokenize(text ?? "").flatMap((t) => ["-t", t])],
      },
      {
        key: "i",
        title: "intercept",
        prompt: { title: "Service to intercept [--port remote[:local]] [--mirror]" },
        command: (_row, text) => ["bridge", "intercept", "--detach", ...tokenize(text ?? "")],
      },
      {
        key: "x",
        title: "disconnect",
        command: (row) => (row?.cells.session ? ["bridge", "disconnect", "--session", row.cells.session] : ["bridge", "disconnect"]),
        confirm: (row) => (row?.cells.session ? `Disconnect ${row.cells.mode} ${row.cells.target} (session ${row.cells.session})?` : "Disconnect every forward and intercept on this machine?"),
      },
    ],
  };
}

/** The share ID from `devx state share --json`: its one result document on stdout (ShareResult). */
export function shareIdFromJson(stdout: string): string | undefined {
  try {
    const id = (JSON.parse(stdout) as { id?: unknown }).id;
    return typeof id === "string" && id.length > 0 ? id : undefined;
  } catch {
    return undefined;
  }
}

export function snapshotsSource(deps: Deps, o: { copy?: (text: string) => void } = {}): PaneSource {
  const copy = o.copy ?? ((t: string) => copyToClipboard(t));
  return {
    id: "snapshots",
    title: "Snapshots",
    async load(): Promise<PaneData> {
      const { listSnapshots } = await import("../../src/core/state/local.ts");
      const s = await listSnapshots({ stateDir: deps.paths.state });
      const when = (iso: string) => iso.replace("T", " ").slice(0, 19);
      const rows: Row[] = [
        ...s.checkpoints.map((c): Row => ({ id: `c:${c.name}`, cells: { kind: "checkpoint", name: c.name, created: when(c.created), mode: c.mode, size: bytes(c.bytes), contents: [...c.containers, ...c.volumes].join(", ") } })),
        ...s.dbSnapshots.map((c): Row => ({ id: `d:${c.name}`, cells: { kind: "db snapshot", name: c.name, created: when(c.created), mode: c.mode, size: bytes(c.bytes), contents: c.volumes.join(", ") } })),
        ...s.shares.map((c): Row => ({ id: `s:${c.relay}/${c.object}`, cells: { kind: "shared", name: `${c.relay}/${c.object}`, created: when(c.created), mode: c.mode, size: bytes(c.bytes), contents: [...c.containers, ...c.volumes].join(", ") } })),
        ...s.restorePoints.map((r): Row => ({ id: `r:${r.name}`, cells: { kind: "restore point", name: r.name, created: when(r.created), mode: "", size: "", contents: `before ${r.source}` }, tone: "dim" })),
      ];
      return {
        kind: "rows",
        columns: [
          { key: "kind", title: "KIND", priority: 2 },
          { key: "name", title: "NAME", priority: 3 },
          { key: "created", title: "CREATED", width: 19 },
          { key: "mode", title: "MODE" },
          { key: "size", title: "SIZE" },
          { key: "contents", title: "CONTENTS" },
        ],
        rows,
        note: "no snapshots on this machine: devx state (checkpoint), devx db snapshot, devx state share",
      };
    },
    // destructive ones run with --dry-run first: the plan is the confirmation, y applies it
    actions: [
      {
        key: "S",
        title: "share",
        // --json: the ID comes from the result document, not from wording meant for people
        command: () => ["state", "share", "--json"],
        then: (run): FollowUp[] => {
          const id = run.code === 0 ? shareIdFromJson(run.stdout) : undefined;
          return id ? [{ key: "c", title: "copy share ID", effect: () => (copy(id), "share ID copied to the clipboard (OSC 52; in tmux: set-clipboard on)") }] : [];
        },
      },
      {
        key: "a",
        title: "attach",
        prompt: { title: "share ID (hidden)", secret: true },
        // the share ID holds the passphrase: the child gets it in its environment, never in argv
        command: (_row, text) => (text ? { args: ["state", "attach", "--dry-run"], env: { DEVX_SHARE_ID: text }, label: "state attach --dry-run ‹share ID›" } : undefined),
      },
      { key: "u", title: "undo", command: () => ["state", "undo", "--dry-run"] },
      {
        key: "R",
        title: "restore",
        command: (row) => (row?.id.startsWith("c:") ? ["state", "restore", row.cells.name!, "--dry-run"] : row?.id.startsWith("d:") ? ["db", "snapshot", "restore", row.cells.name!, "--dry-run"] : undefined),
      },
    ],
  };
}

export function servicesSource(deps: Deps): PaneSource {
  let sampler: import("../../src/core/inventory/usage.ts").ProcessGroupSampler | undefined;
  return {
    id: "services",
    title: "Services",
    async load(signal): Promise<PaneData> {
      const { servicesStatus, projectName } = await import("../../src/core/up/session.ts");
      const { ProcessGroupSampler, containerUsage, usageCells } = await import("../../src/core/inventory/usage.ts");
      const { containerName } = await import("../../src/core/up/runtimes/container.ts");
      const s = await servicesStatus(deps);
      sampler ??= new ProcessGroupSampler();
      const loaded = s.running ? await deps.findConfig().catch(() => undefined) : undefined;
      const project = loaded ? projectName(loaded) : "";
      const live = (state: string) => !["stopped", "failed", "completed", "pending"].includes(state);
      const groups = await sampler.sample(s.nodes.filter((n) => n.runtime === "host" && n.pid !== undefined && live(n.state)).map((n) => n.pid!));
      const boxes = await containerUsage(deps, s.nodes.filter((n) => n.runtime === "container" && live(n.state)).map((n) => containerName(project, n.name)), { preferred: loaded?.config.provider, signal });
      return {
        kind: "rows",
        columns: [
          { key: "name", title: "NAME", priority: 4 },
          { key: "runtime", title: "RUNTIME", priority: 1 },
          { key: "state", title: "STATE", priority: 3 },
          { key: "health", title: "HEALTH", priority: 2 },
          { key: "cpu", title: "CPU", priority: 2 },
          { key: "mem", title: "MEM", priority: 2 },
          { key: "port", title: "PORT", priority: 1 },
          { key: "restarts", title: "RESTARTS" },
          { key: "uptime", title: "UPTIME" },
          { key: "deps", title: "DEPENDS ON" },
        ],
        rows: s.nodes.map((n) => {
          const u = usageCells(n.runtime === "host" ? (n.pid !== undefined ? groups.get(n.pid) : undefined) : boxes.get(containerName(project, n.name)));
          return {
            id: n.name,
            cells: { name: n.name, runtime: n.runtime, state: n.exitCode !== undefined && n.state === "failed" ? `failed (${n.exitCode})` : n.state, health: n.health, ...u.cells, port: n.port ? String(n.port) : "", restarts: String(n.restarts), uptime: ago(n.uptimeMs), deps: n.dependsOn.map((d) => d.name).join(", ") },
            sort: { ...u.sort, ...(n.uptimeMs !== undefined ? { uptime: n.uptimeMs } : {}), restarts: n.restarts, ...(n.port ? { port: n.port } : {}) },
            tone: n.state === "failed" || n.health === "unhealthy" ? "bad" : n.state === "healthy" || (n.state === "running" && n.health !== "starting") || n.state === "completed" ? "ok" : n.state === "stopped" ? "dim" : "warn",
          };
        }),
        note: s.running ? "devx up runs no nodes" : "devx up is not running for this project: start it with devx up --detach",
      };
    },
    async logs(row, onLine, signal) {
      const { followNodeLog } = await import("../../src/core/up/session.ts");
      await followNodeLog(deps, row.id, (l) => onLine(l.stream === "devx" ? `[devx] ${l.text}` : l.text), signal, { tail: 500 });
    },
    actions: (["restart", "stop", "start"] as const).map((verb) => ({
      key: verb === "restart" ? "R" : verb === "stop" ? "x" : "s",
      title: verb,
      confirm: verb === "start" ? undefined : (row?: Row) => `${verb === "stop" ? "Stop" : "Restart"} ${row?.cells.name ?? "this node"} (devx up node)?`,
      task: (row?: Row) =>
        row && {
          label: `${verb} ${row.cells.name} (devx up node)`,
          run: async (onLine: (l: string) => void) => {
            const { nodeAction } = await import("../../src/core/up/session.ts");
            const n = await nodeAction(deps, row.id, verb);
            onLine(n ? `${n.name}: ${n.state}${n.health !== "none" ? `, ${n.health}` : ""}` : `${row.id}: ${verb} sent`);
          },
        },
    })),
  };
}
