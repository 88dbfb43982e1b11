import type { Deps } from "../../cli/deps.ts";
import { plural } from "../../events/format.ts";
import { ConflictError, ProviderError } from "../../errors.ts";
import type { DevxEvent, Emit } from "../../events/types.ts";
import { buildGraph, type Graph } from "./graph.ts";
import { yamlLocator } from "./locate.ts";
import { maskEnv, nodeEnv, serviceExposed, type Exposed } from "./env.ts";
import { describeCheck } from "./health.ts";
import { logDir } from "./logs.ts";
import type { PortChoice } from "./ports.ts";
import { Supervisor, resolvePorts, type NodeStatus } from "./supervisor.ts";
import { projectName, readUpSession, removeUpSession, serveControl, writeUpSession, type UpSessionData } from "./session.ts";
import { containerName } from "./runtimes/container.ts";
import { statusTable } from "./format.ts";
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
}


export async function loadGraph(deps: Deps, only: string[]): Promise<{ loaded: LoadedConfig; graph: Graph; project: string }> {
  const loaded = await deps.config();
  const graph = buildGraph(loaded.config, { locate: yamlLocator(loaded.path, deps.cwd), only });
  return { loaded, graph, project: projectName(loaded) };
}

export interface PlanNode {
  name: string;
  kind: string;
  runtime: string;
  dependsOn: Array<{ name: string; condition: string }>;
  port?: number;
  configuredPort?: number;
  healthcheck?: string;
  restart: string;
  env: Record<string, string>;
}

/** The plan `--dry-run` prints: the same graph, order, ports and env the real run uses (secrets masked). */
export function buildPlan(graph: Graph, loaded: LoadedConfig, ports: Map<string, PortChoice>): { order: string[]; levels: string[][]; nodes: PlanNode[] } {
  const exposed = new Map<string, Exposed>();
  const portOf = (name: string): number | undefined => {
    const n = graph.nodes.get(name)!;
    return n.portFrom ? portOf(n.portFrom) : (ports.get(name)?.port ?? n.port);
  };
  for (const n of graph.nodes.values()) if (n.kind !== "tunnel") exposed.set(n.name, serviceExposed(n, portOf(n.name)));
  const nodes = graph.order.map((name) => {
    const n = graph.nodes.get(name)!;
    const port = portOf(name);
    return {
      name,
      kind: n.kind,
      runtime: n.runtime,
      dependsOn: n.deps,
      port,
      configuredPort: n.portFrom ? port : n.port,
      healthcheck: n.healthcheck ? describeCheck(n.healthcheck, port) : undefined,
      restart: n.service?.restart ?? "no",
      env: n.kind === "service" ? maskEnv(nodeEnv({ graph, node: n, projectEnv: loaded.config.env, exposed, port })) : {},
    };
  });
  return { order: graph.order, levels: graph.levels, nodes };
}

function printPlan(deps: Deps, plan: ReturnType<typeof buildPlan>): void {
  if (deps.global.json) return void deps.io.out.write(JSON.stringify({ plan }, null, 2) + "\n");
  const out: string[] = ["start order (each node starts as soon as its own dependencies are met):"];
  plan.levels.forEach((l, i) => out.push(`  ${i + 1}. ${l.join(", ")}`));
  for (const n of plan.nodes) {
    const port = n.port === undefined ? "" : n.port !== n.configuredPort ? ` port ${n.port} (configured ${n.configuredPort} is busy)` : ` port ${n.port}`;
    out.push("", `${n.name} [${n.kind === "database" ? "database" : n.runtime}]${port}`);
    if (n.dependsOn.length) out.push(`  depends on: ${n.dependsOn.map((d) => `${d.name} (${d.condition})`).join(", ")}`);
    if (n.healthcheck) out.push(`  health: ${n.healthcheck}`);
    if (n.restart !== "no") out.push(`  restart: ${n.restart}`);
    for (const [k, v] of Object.entries(n.env)) out.push(`  ${k}=${v}`);
  }
  deps.io.out.write(out.join("\n") + "\n");
}

/** On a TTY: a status table redrawn in place under the scrolling log lines. */
function liveView(deps: Deps, base: Emit, status: () => NodeStatus[]): { emit: Emit; stop(): void } {
  let drawn = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const clear = () => {
    if (drawn) deps.io.err.write(`\x1b[${drawn}A\x1b[J`);
    drawn = 0;
  };
  const draw = () => {
    timer = undefined;
    clear();
    const t = statusTable(status(), deps.io.color);
    deps.io.err.write(t);
    drawn = t.split("\n").length - 1;
  };
  const tick = setInterval(draw, 1000);
  return {
    emit: (e: DevxEvent) => {
      if (e.type === "state") {
        timer ??= setTimeout(draw, 30);
        return;
      }
      clear();
      base(e);
      draw();
    },
    stop: () => {
      clearInterval(tick);
      if (timer) clearTimeout(timer);
      draw();
    },
  };
}

function liveResources(nodes: NodeStatus[], project: string): { hostGroups: number[]; containers: string[] } {
  return {
    hostGroups: nodes.flatMap((n) => (n.runtime === "host" && n.pid !== undefined ? [n.pid] : [])),
    containers: nodes.filter((n) => n.runtime === "container" && ["running", "healthy", "unhealthy", "starting"].includes(n.state)).map((n) => containerName(project, n.name)),
  };
}

/** `devx up` in this process (foreground, or as the --detach supervisor). Returns the exit code. */
export async function runUp(deps: Deps, req: UpRequest): Promise<number> {
  const { loaded, graph, project } = await loadGraph(deps, req.services);
  const existing = await readUpSession(deps, loaded);
  if (existing && !existing.stale && existing.pid !== process.pid) {
    throw new ConflictError(`devx up is already running for ${project} (pid ${existing.pid})`, "see it with `devx ps`, stop it with `devx down`");
  }
  const runtimes: Partial<Record<string, NodeRuntime>> = { host: hostRuntime(deps.exec), ...req.runtimes };
  for (const n of graph.nodes.values()) {
    if (!runtimes[n.runtime]) {
      throw new ProviderError(`${n.name} needs the ${n.runtime} runtime, which this build of devx cannot start yet`, `remove ${n.name} from devx.yaml (or from the selection), or start it another way`);
    }
  }

  // under --dry-run --json the plan is the one document on stdout (shifts show as port ≠ configuredPort)
  const ports = await resolvePorts(graph, deps.global.dryRun && deps.global.json ? () => {} : deps.emit);
  if (deps.global.dryRun) {
    printPlan(deps, buildPlan(graph, loaded, ports));
    return 0;
  }

  const dir = logDir(deps.paths.state, project);
  let statusOf: () => NodeStatus[] = () => [];
  const live = deps.io.err.isTTY && !deps.global.json && !req.supervisor ? liveView(deps, deps.emit, () => statusOf()) : undefined;
  const shown = live?.emit ?? deps.emit;
  // The session record keeps the host process groups and container names current, so `devx down`
  // can still clean up after a supervisor that was killed (SIGKILL, OOM) without stopping its nodes.
  let recordTimer: ReturnType<typeof setTimeout> | undefined;
  let session: UpSessionData | undefined;
  const recordSoon = () => {
    recordTimer ??= setTimeout(() => {
      recordTimer = undefined;
      if (session) void writeUpSession(deps.paths.state, { ...session, env: sup.exposedEnv(), ...liveResources(sup.status(), project) }).catch(() => {});
    }, 50);
  };
  const emit: Emit = (e) => {
    if (e.type === "state" && (e.state === "running" || e.state === "stopped" || e.state === "failed")) recordSoon();
    shown(e);
  };
  const sup = new Supervisor({
    graph,
    project,
    baseDir: loaded.dir,
    projectEnv: loaded.config.env,
    extraEnv: { DEVX_BIN: selfArgv().join(" "), DEVX_PROJECT: project },
    runtimes,
    emit,
    logDir: dir,
    echoLogs: !req.supervisor,
    ports,
  });
  statusOf = () => sup.status();

  const t0 = performance.now();
  const ready = sup.up();
  let requestDown!: () => void;
  const downRequested = new Promise<void>((r) => (requestDown = r));
  const ctl = serveControl(sup, { down: () => requestDown(), ready });
  session = { project, configPath: loaded.path, controlPort: ctl.port, token: ctl.token, logDir: dir, env: {}, detached: !!req.supervisor, hostGroups: [], containers: [] };
  await writeUpSession(deps.paths.state, session);
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
  await writeUpSession(deps.paths.state, { ...session!, env: sup.exposedEnv(), ...liveResources(sup.status(), project) });
  const ms = Math.round(performance.now() - t0);
  emit({ type: "step", id: "up", title: `${plural(graph.nodes.size, "node")} up in ${ms} ms`, status: "done" });

  if (req.exitWhenHealthy) {
    if (deps.global.json) deps.io.out.write(JSON.stringify({ nodes: sup.status() }) + "\n");
    else deps.io.out.write(statusTable(sup.status(), deps.io.color && deps.io.out.isTTY));
    await teardown();
    return 0;
  }
  await Promise.race([downRequested, sup.settled()]);
  await teardown();
  return deps.signal.aborted ? 130 : 0;
}
