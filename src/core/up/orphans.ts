import type { CoreDeps } from "../deps.ts";
import type { LoadedConfig } from "../../config/load.ts";
import type { Exec } from "../../platform/exec.ts";
import type { Clock } from "../../platform/clock.ts";
import { pidAlive } from "../../platform/atomic.ts";
import { groupAlive, processGroupOf, processesWithEnv, processStartTime } from "../../platform/process.ts";
import type { ContainerRuntime } from "../../../providers/runtime/types.ts";
import { LABEL } from "../labels.ts";
import type { UpSessionData } from "./session.ts";

/**
 * What a `devx up` leaves behind when it dies without stopping its nodes (SIGKILL, OOM, a crash):
 * host services keep running in their own sessions, containers under conmon. Its session record
 * says what it started, and the next `up`, `down` or `doctor --fix` stops exactly that:
 * - host process groups whose leader still has the recorded start time (a PID the kernel has
 *   handed to someone else since is left alone), and on Linux every process whose environment
 *   carries the run's marker (DEVX_UP_RUN=<runId>), which also finds what was started after the
 *   record was last written;
 * - the run's container services (named in the record or labelled devx.session=<runId>, and
 *   carrying this project's devx labels): removed, as `up` removes them on a clean stop;
 * - its databases: stopped, not removed (their data and the container stay, as on a clean stop).
 */
export const RUN_MARKER = "DEVX_UP_RUN";

export interface OrphanDeps {
  exec: Exec;
  clock: Pick<Clock, "sleep">;
  /** the container runtime, only built when the record names containers */
  runtime(): Promise<ContainerRuntime>;
}

/** OrphanDeps from the CLI's CoreDeps: the container runtime is detected only when it is needed. */
export function orphanDeps(deps: Pick<CoreDeps, "exec" | "clock" | "env" | "paths">, loaded?: LoadedConfig): OrphanDeps {
  let rt: Promise<ContainerRuntime> | undefined;
  return {
    exec: deps.exec,
    clock: deps.clock,
    runtime: () =>
      (rt ??= import("../../../providers/runtime/index.ts").then((m) => m.detectRuntime({ exec: deps.exec, env: deps.env, paths: deps.paths }, loaded?.config.provider))),
  };
}

export interface Orphans {
  groups: number[];
  processes: number[];
  containers: string[];
  databases: string[];
  /** recorded processes left alone: the PID now belongs to another program */
  reused: number[];
}

export function describeOrphans(o: Orphans): string[] {
  return [
    ...o.groups.map((g) => `process group ${g}`),
    ...o.processes.map((p) => `process ${p}`),
    ...o.containers.map((c) => `container ${c}`),
    ...o.databases.map((d) => `database ${d}`),
  ];
}

/** What is still running of a dead run, without touching it. */
export async function findOrphans(d: OrphanDeps, data: UpSessionData): Promise<Orphans> {
  const o: Orphans = { groups: [], processes: [], containers: [], databases: [], reused: [] };
  for (const h of data.hosts ?? []) {
    // a leader that is gone leaves its group to the marker scan below: only the marker proves who they are
    if (!pidAlive(h.pid)) continue;
    const start = await processStartTime(h.pid, d.exec);
    if (h.start === undefined || start !== h.start) o.reused.push(h.pid);
    else o.groups.push(h.pid);
  }
  if (data.runId) {
    for (const pid of processesWithEnv(RUN_MARKER, data.runId)) {
      const group = processGroupOf(pid);
      // members of a group stopped as a whole are not listed again
      if (group === undefined || !o.groups.includes(group)) o.processes.push(pid);
    }
  }
  if ((data.containers?.length ?? 0) + (data.databases?.length ?? 0) > 0) {
    let rt: ContainerRuntime;
    try {
      rt = await d.runtime();
    } catch {
      return o; // no container runtime here: nothing of that kind can be running
    }
    const ours = (labels: Record<string, string>, kind: string) => labels[LABEL.managed] === "true" && labels[LABEL.project] === data.project && labels[LABEL.kind] === kind;
    const labelled = data.runId ? await rt.listContainers({ labels: { [LABEL.managed]: "true", [LABEL.project]: data.project, [LABEL.session]: data.runId }, all: true }).catch(() => []) : [];
    const names = new Set([...(data.containers ?? []), ...labelled.map((c) => c.name)]);
    for (const name of names) {
      const info = await rt.inspectContainer(name).catch(() => undefined);
      if (info && ours(info.labels, "service")) o.containers.push(name);
    }
    for (const name of data.databases ?? []) {
      const info = await rt.inspectContainer(name).catch(() => undefined);
      if (info?.state === "running" && ours(info.labels, "database")) o.databases.push(name);
    }
  }
  return o;
}

function signal(target: number, sig: NodeJS.Signals): void {
  try {
    process.kill(target, sig);
  } catch {
    /* already gone */
  }
}

/** Stop what findOrphans found: SIGTERM, SIGKILL after `graceMs`; containers removed, databases stopped. */
export async function stopOrphans(d: OrphanDeps, o: Orphans, graceMs = 5000): Promise<void> {
  for (const g of o.groups) signal(-g, "SIGTERM");
  for (const p of o.processes) signal(p, "SIGTERM");
  const alive = () => [...o.groups.filter(groupAlive).map((g) => -g), ...o.processes.filter(pidAlive)];
  const deadline = Date.now() + graceMs;
  while (alive().length > 0 && Date.now() < deadline) await d.clock.sleep(20);
  for (const t of alive()) signal(t, "SIGKILL");
  while (alive().length > 0 && Date.now() < deadline + 2000) await d.clock.sleep(20);
  if (o.containers.length === 0 && o.databases.length === 0) return;
  const rt = await d.runtime();
  for (const c of o.containers) await rt.remove(c, { force: true }).catch(() => {});
  for (const db of o.databases) await rt.stop(db, 10).catch(() => {});
}
