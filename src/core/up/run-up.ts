import type { CoreDeps } from "../deps.ts";
import { plural } from "../../events/format.ts";
import { ConflictError, ProviderError } from "../../errors.ts";
import type { Emit } from "../../events/types.ts";
import { createHash, randomBytes } from "node:crypto";
import { buildGraph, type Graph } from "./graph.ts";
import { logDir } from "./logs.ts";
import { buildPlan, type UpPlan } from "./plan.ts";
import { describeOrphans, findOrphans, orphanDeps, RUN_MARKER, stopOrphans } from "./orphans.ts";
import { processStartTime } from "../../platform/process.ts";
import { containerName as dbContainerName } from "../db/spawn.ts";
import type { PortChoice } from "./ports.ts";
import { Supervisor, resolvePorts, type NodeStatus } from "./supervisor.ts";
import { control, projectName, readUpSession, removeUpSession, serveControl, writeUpSession, type UpSessionData } from "./session.ts";
import { containerName } from "./runtimes/container.ts";
import { selfArgv } from "../../platform/self.ts";
import { hostRuntime } from "./runtimes/host.ts";
import type { NodeRuntime } from "./runtimes/types.ts";
import type { LoadedConfig } from "../../config/load.ts";

export interface UpRequest {
  services: string[];
  exitWhenHealthy?: boolean;
  /** the child of --detach: output goes to a file, the session is marked detached */
  supervisor?: boolean;
  /** container/database/bridge runtimes, built lazily by the command */
  runtimes?: Partial<Record<"container" | "database" | "bridge" | "tunnel", NodeRuntime>>;
  /** plan only: the view gets the plan, nothing starts */
  dryRun: boolean;
}

/** What the caller draws: runUp reports, the view decides how it looks (src/cli/views/up-view.ts). */
export interface UpView {
  /** the dry run's plan, with notes (a running supervisor, what would be stopped first), each as a sentence and as JSON */
  plan(plan: UpPlan, notes: Array<{ message: string; json: Record<string, unknown> }>): void;
  /** while the graph runs: wraps the event stream (a live table); stop() draws the last frame */
  live?(status: () => NodeStatus[]): { wrap(base: Emit): Emit; stop(): void };
  /** everything healthy, under --exit-when-healthy */
  healthy(nodes: NodeStatus[]): void;
}


/** The ports a running up's nodes hold, as a preset for the plan of that run. */
async function runningPorts(data: UpSessionData): Promise<Map<string, PortChoice>> {
  const st = await control<{ nodes: NodeStatus[] }>(data, "GET", "/status", 5000).catch(() => ({ nodes: [] as NodeStatus[] }));
  return new Map(st.nodes.filter((n) => n.port !== undefined).map((n) => [n.name, { port: n.port!, shiftedFrom: n.configuredPort !== n.port ? n.configuredPort : undefined }]));
}

export async function loadGraph(deps: CoreDeps, only: string[]): Promise<{ loaded: LoadedConfig; graph: Graph; project: string }> {
  const loaded = await deps.config();
  const graph = buildGraph(loaded.config, { locate: loaded.locate, only });
  return { loaded, graph, project: projectName(loaded) };
}

/** Host nodes as the record keeps them: PID (= process group) and start time, so a reused PID is never signalled. */
async function hostRecords(deps: CoreDeps, nodes: NodeStatus[]): Promise<NonNullable<UpSessionData["hosts"]>> {
  const hosts = nodes.filter((n) => n.runtime === "host" && n.pid !== undefined);
  return Promise.all(hosts.map(async (n) => ({ node: n.name, pid: n.pid!, start: await processStartTime(n.pid!, deps.exec) })));
}

/** A fingerprint of what a run was asked to start: the effective config and the selection. */
export function runFingerprint(loaded: LoadedConfig, services: string[]): string {
  return createHash("sha256").update(JSON.stringify([loaded.config, [...services].sort()])).digest("hex");
}

/** `devx up` in this process (foreground, or as the --detach supervisor). Returns the exit code. */
export async function runUp(deps: CoreDeps, req: UpRequest, view: UpView): Promise<number> {
  const { loaded, graph, project } = await loadGraph(deps, req.services);
  const existing = await readUpSession(deps, loaded);
  let preset: Map<string, PortChoice> | undefined;
  // a dry run's notes go to the view with its plan (under --json they are part of the one document)
  const planNotes: Array<{ message: string; json: Record<string, unknown> }> = [];
  const note = (message: string, json: Record<string, unknown>) => planNotes.push({ message, json });
  if (existing && !existing.stale && existing.pid !== process.pid) {
    if (!req.dryRun) throw new ConflictError(`devx up is already running for ${project} (pid ${existing.pid})`, "see it with `devx ps`, stop it with `devx down`");
    // the plan of the running graph: its nodes on the ports they hold now
    preset = await runningPorts(existing.data);
    note(`devx up is already running for ${project} (pid ${existing.pid}); this is its plan, on the ports it holds`, { running: { pid: existing.pid } });
  } else if (existing?.stale) {
    const found = await findOrphans(orphanDeps(deps, loaded), existing.data);
    const left = describeOrphans(found);
    if (req.dryRun) {
      if (left.length) note(`would first stop what a crashed devx up of ${project} left running: ${left.join(", ")}`, { wouldStopFirst: left });
    } else {
      await stopOrphans(orphanDeps(deps, loaded), found);
      await removeUpSession(deps.paths.state, project);
      if (left.length) deps.emit({ type: "warning", message: `stopped what a crashed devx up of ${project} left running: ${left.join(", ")}` });
    }
  }
  const runtimes: Partial<Record<string, NodeRuntime>> = { host: hostRuntime(deps.exec), ...req.runtimes };
  for (const n of graph.nodes.values()) {
    if (!runtimes[n.runtime]) {
      throw new ProviderError(`${n.name} needs the ${n.runtime} runtime, which this build of devx cannot start yet`, `remove ${n.name} from devx.yaml (or from the selection), or start it another way`);
    }
  }

  // a dry run's shifted ports show in its plan (port ≠ configuredPort), not as events
  const ports = await resolvePorts(graph, req.dryRun ? () => {} : deps.emit, preset);
  if (req.dryRun) {
    view.plan(buildPlan(graph, loaded, ports), planNotes);
    return 0;
  }

  const dir = logDir(deps.paths.state, project);
  let statusOf: () => NodeStatus[] = () => [];
  const live = view.live?.(() => statusOf());
  const shown = live?.wrap(deps.emit) ?? deps.emit;
  // The session record is written before any node starts (run marker, container and database
  // names) and keeps the host processes current, so the next `up`, `down` or `doctor --fix` can
  // clean up after a supervisor that was killed (SIGKILL, OOM) without stopping its nodes.
  let recordTimer: ReturnType<typeof setTimeout> | undefined;
  let session: UpSessionData | undefined;
  const record = async () => {
    const hosts = await hostRecords(deps, sup.status());
    if (session) await writeUpSession(deps.paths.state, { ...session, env: sup.exposedEnv(), hosts });
  };
  const recordSoon = () => {
    recordTimer ??= setTimeout(() => {
      recordTimer = undefined;
      void record().catch(() => {});
    }, 50);
  };
  const emit: Emit = (e) => {
    if (e.type === "state" && (e.state === "running" || e.state === "stopped" || e.state === "failed")) recordSoon();
    shown(e);
  };
  const runId = randomBytes(8).toString("hex");
  const sup = new Supervisor({
    graph,
    project,
    baseDir: loaded.dir,
    projectEnv: loaded.config.env,
    extraEnv: { DEVX_BIN: selfArgv().join(" "), DEVX_PROJECT: project, [RUN_MARKER]: runId },
    runId,
    runtimes,
    emit,
    logDir: dir,
    echoLogs: !req.supervisor,
    ports,
  });
  statusOf = () => sup.status();

  const t0 = performance.now();
  const started = Promise.withResolvers<void>();
  started.promise.catch(() => {});
  let requestDown!: () => void;
  const downRequested = new Promise<void>((r) => (requestDown = r));
  const ctl = serveControl(sup, { down: () => requestDown(), ready: started.promise });
  const nodesOf = (runtime: string) => [...graph.nodes.values()].filter((n) => n.runtime === runtime).map((n) => n.name);
  session = {
    project,
    configPath: loaded.path,
    controlPort: ctl.port,
    token: ctl.token,
    logDir: dir,
    env: {},
    detached: !!req.supervisor,
    runId,
    ownerStart: await processStartTime(process.pid, deps.exec),
    hosts: [],
    containers: nodesOf("container").map((n) => containerName(project, n)),
    databases: nodesOf("database").map((n) => dbContainerName(project, n)),
    configHash: runFingerprint(loaded, req.services),
    services: req.services,
  };
  await writeUpSession(deps.paths.state, session);
  const ready = sup.up();
  ready.then(started.resolve, started.reject);
  const onAbort = () => requestDown();
  deps.signal.addEventListener("abort", onAbort, { once: true });

  const teardown = async () => {
    deps.signal.removeEventListener("abort", onAbort);
    session = undefined;
    emit({ type: "step", id: "down", title: `stopping ${plural(graph.nodes.size, "node")}`, status: "started" });
    await sup.down();
    live?.stop();
    ctl.close();
    if (recordTimer) clearTimeout(recordTimer);
    await removeUpSession(deps.paths.state, project);
    deps.emit({ type: "step", id: "down", title: "stopped everything", status: "done" });
  };

  try {
    await Promise.race([ready, downRequested]);
  } catch (e) {
    await teardown();
    throw e;
  }
  if (deps.signal.aborted) {
    await teardown();
    return 130;
  }
  await record();
  const ms = Math.round(performance.now() - t0);
  emit({ type: "step", id: "up", title: `${plural(graph.nodes.size, "node")} up in ${ms} ms`, status: "done" });

  if (req.exitWhenHealthy) {
    view.healthy(sup.status());
    await teardown();
    return 0;
  }
  await Promise.race([downRequested, sup.settled()]);
  await teardown();
  return deps.signal.aborted ? 130 : 0;
}
