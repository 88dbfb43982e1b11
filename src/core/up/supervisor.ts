import { join } from "node:path";
import { UnhealthyError } from "../../errors.ts";
import type { Emit } from "../../events/types.ts";
import { dependents, type Condition, type Graph, type NodeSpec, type RuntimeKind } from "./graph.ts";
import { nodeEnv, serviceExposed, type Exposed } from "./env.ts";
import { EXEC_FAST_MS, FAST_MS, describeCheck, makeProbe, timingOf, waitHealthy, watchHealth } from "./health.ts";
import { NodeLog } from "./logs.ts";
import { resolvePort, type PortChoice } from "./ports.ts";
import type { NodeRuntime, Running } from "./runtimes/types.ts";

/**
 * The scheduler and supervisor of one `devx up`. Each node starts as soon as its own dependencies
 * meet their conditions (not tier by tier), is health-checked, restarted by its policy with
 * exponential backoff, and stopped in reverse dependency order (a node stops only after everything
 * that depends on it has stopped).
 */
export type NodeState = "pending" | "starting" | "running" | "healthy" | "unhealthy" | "restarting" | "completed" | "failed" | "stopping" | "stopped";
export type Health = "none" | "starting" | "healthy" | "unhealthy";

export interface NodeStatus {
  name: string;
  kind: "service" | "database" | "tunnel";
  runtime: RuntimeKind;
  state: NodeState;
  health: Health;
  port?: number;
  configuredPort?: number;
  restarts: number;
  pid?: number;
  exitCode?: number;
  uptimeMs?: number;
  dependsOn: Array<{ name: string; condition: Condition }>;
}

export interface SupervisorOptions {
  graph: Graph;
  project: string;
  baseDir: string;
  projectEnv?: Record<string, string | number | boolean>;
  /** env every node gets (DEVX_BIN…) below everything else */
  extraEnv?: Record<string, string>;
  runtimes: Partial<Record<RuntimeKind, NodeRuntime>>;
  emit: Emit;
  logDir: string;
  /** also emit each output line as a "log" event (foreground up) */
  echoLogs?: boolean;
  ports?: Map<string, PortChoice>;
  backoff?: { initialMs: number; maxMs: number };
  /** this run's id: runtimes label what they create with it (devx.session) */
  runId?: string;
}

class Deferred<T = void> {
  settled = false;
  promise: Promise<T>;
  resolve!: (v: T) => void;
  reject!: (e: unknown) => void;
  constructor() {
    this.promise = new Promise<T>((res, rej) => {
      this.resolve = (v) => ((this.settled = true), res(v));
      this.reject = (e) => ((this.settled = true), rej(e));
    });
    this.promise.catch(() => {});
  }
}

interface Slot {
  spec: NodeSpec;
  state: NodeState;
  health: Health;
  port?: number;
  restarts: number;
  pid?: number;
  exitCode?: number;
  startedAt?: number;
  running?: Running;
  /** started and not yet exited (containers, databases and bridges have no host pid) */
  alive: boolean;
  log: NodeLog;
  started: Deferred;
  healthy: Deferred;
  completed: Deferred;
  life: AbortController;
  loop?: Promise<void>;
}

const STABLE_MS = 10_000;

export class Supervisor {
  private slots = new Map<string, Slot>();
  private exposed = new Map<string, Exposed>();
  private failure = new Deferred<never>();
  private startup = new AbortController();
  private stopping = false;

  constructor(private readonly o: SupervisorOptions) {
    for (const spec of o.graph.nodes.values()) {
      const choice = o.ports?.get(spec.name);
      this.slots.set(spec.name, {
        spec,
        state: "pending",
        health: spec.healthcheck ? "starting" : "none",
        port: choice?.port ?? spec.port,
        restarts: 0,
        alive: false,
        log: new NodeLog(join(o.logDir, `${spec.name}.log`), undefined, undefined, true),
        started: new Deferred(),
        healthy: new Deferred(),
        completed: new Deferred(),
        life: new AbortController(),
      });
    }
  }

  status(now = Date.now()): NodeStatus[] {
    return [...this.slots.values()].map((s) => ({
      name: s.spec.name,
      kind: s.spec.kind,
      runtime: s.spec.runtime,
      state: s.state,
      health: s.health,
      port: s.port,
      configuredPort: s.spec.port,
      restarts: s.restarts,
      pid: s.pid,
      exitCode: s.exitCode,
      uptimeMs: s.startedAt !== undefined && ["running", "healthy", "unhealthy"].includes(s.state) ? now - s.startedAt : undefined,
      dependsOn: s.spec.deps,
    }));
  }

  /** Env a dependent would see for every node that exposes something (for `devx run`). */
  exposedEnv(): Record<string, string> {
    const env: Record<string, string> = {};
    for (const e of this.exposed.values()) Object.assign(env, e.env);
    return env;
  }

  /** Starts every node; resolves when all are ready (healthy, started without a check, or completed). */
  async up(): Promise<void> {
    const ready = [...this.slots.values()].map((s) => {
      s.loop = this.runNode(s, true);
      return Promise.any([s.healthy.promise, s.completed.promise]);
    });
    try {
      await Promise.race([Promise.all(ready), this.failure.promise]);
    } catch (e) {
      throw e instanceof AggregateError ? e.errors[0] : e;
    } finally {
      this.startup.abort();
    }
  }

  private set(s: Slot, state: NodeState, detail: Record<string, unknown> = {}): void {
    s.state = state;
    this.o.emit({ type: "state", node: s.spec.name, state, detail: { port: s.port, pid: s.pid, restarts: s.restarts, ...detail } });
  }

  private waitFor(dep: string, condition: Condition, signal: AbortSignal): Promise<void> {
    const d = this.slots.get(dep)!;
    const p = condition === "service_started" ? d.started.promise : condition === "service_healthy" ? d.healthy.promise : d.completed.promise;
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
      p.then(resolve, reject);
    });
  }

  private fail(err: Error): void {
    if (!this.failure.settled && !this.startup.signal.aborted) this.failure.reject(err);
  }

  private crashDetail(s: Slot): string {
    const tail = s.log.tail.slice(-10);
    return tail.length ? `\nlast lines of ${s.spec.name}:\n${tail.map((l) => `  ${l}`).join("\n")}` : "";
  }

  private async runNode(s: Slot, initial: boolean): Promise<void> {
    const { spec } = s;
    const life = s.life.signal;
    if (initial && spec.deps.length > 0) {
      try {
        await Promise.all(spec.deps.map((d) => this.waitFor(d.name, d.condition, AbortSignal.any([life, this.startup.signal]))));
      } catch (e) {
        if (life.aborted || this.startup.signal.aborted) return;
        const bad = spec.deps.find((d) => this.slots.get(d.name)!.state === "failed" || this.slots.get(d.name)!.state === "completed");
        this.fail(new UnhealthyError(`${spec.name} cannot start: ${bad ? `${bad.name} ended (${this.slots.get(bad.name)!.state}) before meeting ${bad.condition}` : (e as Error).message}`, "fix the dependency (see `devx logs`), then run `devx up` again"));
        return;
      }
    }
    let backoff = this.o.backoff?.initialMs ?? 200;
    const maxBackoff = this.o.backoff?.maxMs ?? 10_000;
    if (spec.portFrom) s.port = this.slots.get(spec.portFrom)?.port;
    while (!life.aborted) {
      this.set(s, "starting");
      const env = nodeEnv({ graph: this.o.graph, node: spec, projectEnv: this.o.projectEnv, exposed: this.exposed, port: s.port, extra: this.o.extraEnv });
      let running: Running;
      try {
        running = await this.o.runtimes[spec.runtime]!.start({
          node: spec,
          project: this.o.project,
          port: s.port,
          env,
          baseDir: this.o.baseDir,
          runId: this.o.runId,
          emit: this.o.emit,
          signal: life,
          line: (text, stream) => {
            s.log.write(text, stream);
            if (this.o.echoLogs) this.o.emit({ type: "log", source: spec.name, line: text, stream });
          },
        });
      } catch (e) {
        this.set(s, "failed", { error: (e as Error).message });
        s.started.reject(e);
        s.healthy.reject(e);
        s.completed.reject(e);
        this.fail(e as Error);
        return;
      }
      s.running = running;
      s.alive = true;
      s.pid = running.pid;
      s.startedAt = Date.now();
      s.log.write(`started${running.pid ? ` (pid ${running.pid})` : ""}${s.port !== undefined ? ` on port ${s.port}` : ""}`, "devx");
      this.exposed.set(spec.name, running.exposed ?? serviceExposed(spec, s.port));
      this.set(s, "running");
      s.started.resolve();
      const attempt = new AbortController();
      const exitedEarly = running.exited.then((code) => (attempt.abort(), code));
      void this.checkHealth(s, running, attempt.signal);
      const code = await exitedEarly;
      s.alive = false;
      s.pid = undefined;
      s.log.write(life.aborted ? `stopped (exit code ${code})` : `exited with code ${code}`, "devx");
      if (life.aborted) return;
      s.exitCode = code;
      const pol = spec.restart;
      const restart = pol.policy === "always" || (pol.policy === "on-failure" && code !== 0 && (pol.max === undefined || s.restarts < pol.max));
      if (code === 0 && !restart) {
        s.health = s.health === "none" ? "none" : s.health;
        this.set(s, "completed", { exitCode: 0 });
        s.completed.resolve();
        s.healthy.reject(new Error(`${spec.name} exited`));
        return;
      }
      if (!restart) {
        this.set(s, "failed", { exitCode: code });
        const err = new UnhealthyError(`${spec.name} exited with code ${code}${this.crashDetail(s)}`, `see \`devx logs ${spec.name}\`; set restart: on-failure to restart it automatically`);
        this.o.emit({ type: "warning", message: err.message, hint: err.hint });
        s.completed.reject(err);
        s.healthy.reject(err);
        this.fail(err);
        return;
      }
      if (Date.now() - s.startedAt > STABLE_MS) backoff = this.o.backoff?.initialMs ?? 200;
      this.o.emit({ type: "warning", message: `${spec.name} exited with code ${code}; restarting in ${backoff} ms${this.crashDetail(s)}` });
      this.set(s, "restarting", { exitCode: code });
      await new Promise<void>((r) => {
        const t = setTimeout(r, backoff);
        life.addEventListener("abort", () => (clearTimeout(t), r()), { once: true });
      });
      backoff = Math.min(maxBackoff, backoff * 2);
      s.restarts++;
    }
  }

  private async checkHealth(s: Slot, running: Running, attempt: AbortSignal): Promise<void> {
    const hc = s.spec.healthcheck;
    if (!hc || running.selfHealthy) {
      if (running.selfHealthy) s.health = "healthy";
      if (running.selfHealthy) this.set(s, "healthy");
      s.healthy.resolve();
      return;
    }
    const timing = timingOf(hc);
    const probe = makeProbe(hc, { port: s.port, configuredPort: s.spec.port, timeoutMs: timing.timeoutMs, runExec: (argv, t) => running.exec(argv, t) });
    s.health = "starting";
    const ok = await waitHealthy(probe, timing, attempt, Date.now, hc.exec !== undefined ? EXEC_FAST_MS : FAST_MS);
    if (attempt.aborted) return;
    if (!ok) {
      s.health = "unhealthy";
      this.set(s, "unhealthy");
      const budget = timing.startPeriodMs + timing.intervalMs * timing.retries;
      const err = new UnhealthyError(
        `${s.spec.name} did not become healthy within ${(budget / 1000).toFixed(1)} s (${describeCheck(hc, s.port)})${this.crashDetail(s)}`,
        `check \`devx logs ${s.spec.name}\`, or raise healthcheck retries/interval/start_period in devx.yaml`,
      );
      s.healthy.reject(err);
      this.fail(err);
      return;
    }
    s.health = "healthy";
    this.set(s, "healthy");
    s.healthy.resolve();
    await watchHealth(probe, timing, attempt, (healthy) => {
      s.health = healthy ? "healthy" : "unhealthy";
      this.set(s, healthy ? "healthy" : "unhealthy");
      if (!healthy) this.o.emit({ type: "warning", message: `${s.spec.name} became unhealthy (${describeCheck(hc, s.port)})`, hint: `see \`devx logs ${s.spec.name}\`` });
    });
  }

  private async stopSlot(s: Slot): Promise<void> {
    s.life.abort();
    const r = s.running;
    if (r && s.alive) {
      this.set(s, "stopping");
      await r.stop(s.spec.graceMs);
    }
    await s.loop;
    s.running = undefined;
    s.pid = undefined;
    s.health = "none";
    if (s.state !== "pending" || r) this.set(s, "stopped");
    else s.state = "stopped";
    s.log.close();
  }

  /** Stops everything, dependents before their dependencies; resolves when nothing runs. */
  async down(): Promise<void> {
    this.held.clear();
    if (this.stopping) return this.downDone;
    this.stopping = true;
    this.startup.abort();
    const done = new Map<string, Promise<void>>();
    const stop = (name: string): Promise<void> => {
      let p = done.get(name);
      if (p) return p;
      p = (async () => {
        await Promise.all(dependents(this.o.graph, name).map(stop));
        await this.stopSlot(this.slots.get(name)!);
      })();
      done.set(name, p);
      return p;
    };
    this.downDone = Promise.all([...this.slots.keys()].map(stop)).then(() => {});
    return this.downDone;
  }
  private downDone: Promise<void> = Promise.resolve();

  /** nodes stopped or restarted on request (dashboard, control channel): they may start again */
  private held = new Set<string>();

  /**
   * Resolves when every node has ended on its own. A node stopped or restarted on request does
   * not end the run: its loop is replaced when it starts again, so wait for the new loop.
   */
  async settled(): Promise<void> {
    for (;;) {
      const loops = [...this.slots.values()].map((s) => s.loop);
      await Promise.all(loops);
      if (this.held.size === 0 && [...this.slots.values()].every((s, i) => s.loop === loops[i])) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  node(name: string): NodeStatus | undefined {
    return this.status().find((n) => n.name === name);
  }

  async stopNode(name: string): Promise<void> {
    const s = this.slots.get(name)!;
    this.held.add(name);
    await this.stopSlot(s);
  }

  async startNode(name: string): Promise<void> {
    const s = this.slots.get(name)!;
    if (s.running && s.alive) return;
    s.life = new AbortController();
    s.log = new NodeLog(join(this.o.logDir, `${name}.log`));
    s.healthy = new Deferred();
    s.loop = this.runNode(s, false);
    this.held.delete(name);
    await Promise.race([s.healthy.promise, s.loop]);
  }

  async restartNode(name: string): Promise<void> {
    await this.stopNode(name);
    await this.startNode(name);
  }
}

/**
 * Resolves every node's host port, saying aloud which ones shifted. `preset` fixes some nodes'
 * ports (the plan of a running up shows the ports its nodes hold).
 */
export async function resolvePorts(graph: Graph, emit: Emit, preset?: Map<string, PortChoice>): Promise<Map<string, PortChoice>> {
  const out = new Map<string, PortChoice>([...(preset ?? [])].filter(([name]) => graph.nodes.has(name)));
  const taken = new Set<number>([...out.values()].map((c) => c.port));
  for (const name of graph.order) {
    const n = graph.nodes.get(name)!;
    if (n.port === undefined || n.runtime === "bridge" || out.has(name)) continue;
    const c = await resolvePort(n.port, taken);
    taken.add(c.port);
    out.set(name, c);
    if (c.shiftedFrom !== undefined) emit({ type: "warning", message: `port ${c.shiftedFrom} for ${name} is busy; using ${c.port} instead`, hint: `${name}'s health check and its dependents' env use ${c.port}` });
  }
  return out;
}
