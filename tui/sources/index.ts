import type { Deps } from "../../src/cli/deps.ts";
import type { ContainerRuntime } from "../../src/core/inventory/containers.ts";
import type { PaneData, PaneSource, Row } from "../types.ts";
import type { LogStore } from "./log-store.ts";
import { bridgeSource, servicesSource, snapshotsSource, tunnelsSource, vmSource } from "./live.ts";

/** What the containers pane needs from Deps (kept narrow so tests build it by hand). */
export type SourceDeps = Pick<Deps, "exec" | "env" | "paths" | "findConfig">;

const unavailable = (id: string, title: string, capability: string): PaneSource => ({
  id,
  title,
  load: async () => ({ kind: "unavailable", reason: `${capability} is not available in this build` }),
});

const time = (ms: number) => new Date(ms).toISOString().slice(11, 19);

export function logsSource(store: LogStore): PaneSource {
  return {
    id: "logs",
    title: "Logs",
    subscribe: (fn) => store.subscribe(fn),
    load: async (): Promise<PaneData> => ({
      kind: "rows",
      columns: [
        { key: "time", title: "TIME", width: 8 },
        { key: "source", title: "SOURCE", priority: 1 },
        { key: "line", title: "MESSAGE" },
      ],
      // newest first: the pane opens on what just happened
      rows: store
        .list()
        .map((e, i): Row => ({ id: String(i), cells: { time: time(e.at), source: e.source, line: e.line }, tone: e.level === "error" ? "bad" : e.level === "warn" ? "warn" : undefined }))
        .reverse(),
      note: store.list().length === 0 ? "nothing logged yet: commands run from the palette (:) and events appear here" : undefined,
    }),
  };
}

export function containersSource(deps: SourceDeps): PaneSource {
  let preferred: string | undefined;
  return {
    id: "containers",
    title: "Containers & databases",
    async load(signal) {
      const { listDevxContainers } = await import("../../src/core/inventory/containers.ts");
      const { containerUsage, usageCells } = await import("../../src/core/inventory/usage.ts");
      preferred = (await deps.findConfig().catch(() => undefined))?.config.provider;
      const listing = await listDevxContainers(deps, { preferred });
      const running = listing.containers.filter((c) => c.state === "running").map((c) => c.name);
      const usage = await containerUsage(deps, running, { preferred, signal });
      return {
        kind: "rows",
        columns: [
          { key: "name", title: "NAME", priority: 4 },
          { key: "kind", title: "KIND", priority: 2 },
          { key: "project", title: "PROJECT", priority: 1 },
          { key: "state", title: "STATE", priority: 3 },
          { key: "cpu", title: "CPU", priority: 2 },
          { key: "mem", title: "MEM", priority: 2 },
          { key: "ports", title: "PORTS", priority: 1 },
          { key: "image", title: "IMAGE" },
        ],
        rows: listing.containers.map((c) => {
          const u = usageCells(usage.get(c.name));
          return {
            id: c.id,
            cells: { name: c.name, kind: c.kind, project: c.project, state: c.state, ...u.cells, ports: c.ports, image: c.image, id: c.id, volumes: c.volumes, created: c.createdAt ?? "" },
            sort: u.sort,
            tone: c.state === "running" ? "ok" : c.state === "exited" || c.state === "stopped" ? "dim" : "warn",
          };
        }),
        note: listing.containers.length === 0 ? `no containers labelled devx.managed=true in ${listing.runtimeName}` : undefined,
      };
    },
    async logs(row, onLine, signal) {
      const { followContainerLogs } = await import("../../src/core/inventory/containers.ts");
      await followContainerLogs(deps, row.id, onLine, signal, { preferred });
    },
  };
}

/**
 * The panes, in sidebar order. A capability whose core function has not landed in this build is
 * a pane that says so: never fake rows.
 */
export function defaultSources(deps: Deps, logs: LogStore): PaneSource[] {
  return [
    vmSource(deps),
    containersSource(deps),
    tunnelsSource(deps),
    bridgeSource(deps),
    snapshotsSource(deps),
    servicesSource(deps),
    unavailable("sessions", "Sessions", "Sandbox sessions (devx session)"),
    logsSource(logs),
  ];
}
