import type { KubeBridge, Pod, Service } from "../../../providers/kube/bridge.ts";
import { ConflictError, UnhealthyError, UsageError } from "../../errors.ts";
import { listSessions, removeSession, writeSession } from "../../platform/sessions.ts";
import { VERSION } from "../../version.ts";
import { agentGone, deleteAgentObjects, podReady, waitForAgentPod } from "./agent-pod.ts";
import { agentName, agentObjects, agentPorts, agentSelector, internalPorts, ownedBy, withSecret, type AgentObjects, type AgentPort, type InternalPorts } from "./agent-spec.ts";
import { bridgeSettings, randomSession, type BridgeDeps, type BridgeSettings, type KubeSelection } from "./settings.ts";
import { preflightIntercept } from "./preflight.ts";
import { labelSelector, readAnnotation, restoreSelector, swapSelector } from "../../../providers/kube/intercept-selector.ts";
import { startTunnel, type Tunnel, type TunnelStats } from "./tunnel.ts";
import { newTunnelSecret } from "../../protocol/bridge/wire.ts";

/**
 * `devx bridge intercept`: preflight, deploy the agent, wait for it, open the tunnel, swap the
 * Service's selector to the agent. The tunnel goes up before the swap, so the first redirected
 * connection already has somewhere to go. stop() undoes everything in reverse.
 */
export interface InterceptRequest extends KubeSelection {
  service: string;
  /** `remote[:host]`, remote being a Service port name or number; unmapped ports keep their number */
  ports?: string[];
  mirror?: boolean;
  graceMs?: number;
  agentImage?: string;
  /** how long to wait for the agent pod to become Ready */
  readyTimeoutMs?: number;
  /** the agent's lifetime cap (its Job's activeDeadlineSeconds; default 12 h) */
  maxLifetimeSeconds?: number;
}

export interface InterceptRecord {
  mode: "intercept";
  session: string;
  context: string;
  namespace: string;
  service: string;
  mirror: boolean;
  ports: Array<{ name: string; servicePort: number; hostPort: number }>;
  /** Service port name (stream name) → host port, as the tunnel routes */
  hostPorts: Record<string, number>;
  /** the agent's control port (127.0.0.1 in its pod), reached through a port-forward */
  controlPort: number;
  /** the tunnel secret the agent checks; the record is 0600 like a kubeconfig */
  secret: string;
  agent: string;
  agentPod?: string;
  kube: KubeSelection;
  stats?: TunnelStats;
  phases: Record<string, number>;
}

export interface InterceptHandle {
  session: string;
  record: InterceptRecord;
  /** resolves once traffic reaches the host (or rejects with why not) */
  ready: Promise<void>;
  /** intercepts export nothing; present so `devx up` treats connect and intercept alike */
  env: Record<string, string>;
  stats(): TunnelStats | undefined;
  /** resolves when the intercept ends on its own (agent gone) */
  ended: Promise<string>;
  stop(): Promise<void>;
  /** tests: drop the tunnel's transport as a network loss would */
  dropTunnel(): void;
}

/**
 * `--port remote[:host]` → stream name → host port. Service ports that share a targetPort arrive on
 * one agent socket, so they share a host port too: mapping them to two different ones is refused.
 */
export function hostPortMap(ports: AgentPort[], specs: string[]): Record<string, number> {
  const map: Record<string, number> = {};
  for (const p of ports) map[p.stream] ??= p.servicePort;
  const chosen = new Map<string, { spec: string; host: number }>();
  for (const spec of specs) {
    const m = /^([a-z0-9-]+)(?::(\d+))?$/i.exec(spec);
    if (!m) throw new UsageError(`bad --port "${spec}"`, "use --port <service port name or number>[:<host port>]");
    const p = ports.find((x) => x.name === m[1] || String(x.servicePort) === m[1]);
    if (!p) throw new UsageError(`the Service has no port "${m[1]}"`, `its ports are: ${ports.map((x) => `${x.name} (${x.servicePort})`).join(", ")}`);
    const host = m[2] ? Number(m[2]) : p.servicePort;
    if (host < 1 || host > 65535) throw new UsageError(`bad host port in --port "${spec}"`, "host ports are 1-65535");
    const before = chosen.get(p.stream);
    if (before && before.host !== host) {
      const shared = ports.filter((x) => x.stream === p.stream).map((x) => x.name);
      throw new UsageError(`--port ${before.spec} and --port ${spec} send one agent port to two host ports`, `Service ports ${shared.join(" and ")} share targetPort ${p.targetPort}, so their traffic cannot be told apart: give them one host port`);
    }
    chosen.set(p.stream, { spec, host });
    map[p.stream] = host;
  }
  return map;
}

/** What an intercept will do, computed once: the dry run prints it and the real run executes it. */
export interface InterceptPlan {
  session: string;
  namespace: string;
  service: string;
  mirror: boolean;
  graceMs: number;
  image: string;
  ports: AgentPort[];
  /** stream name → host port */
  hostPorts: Record<string, number>;
  internal: InternalPorts;
  /** what is created, in order (the Secret without its data) */
  objects: AgentObjects;
  /** the Service's selector during the intercept */
  selector: Record<string, string>;
  svc: Service;
}

/** Preflight (Service shape, conflicts, every permission) and the plan; creates nothing. */
export async function planIntercept(settings: BridgeSettings, req: InterceptRequest, session = randomSession()): Promise<InterceptPlan> {
  const { kube, namespace } = settings;
  const mirror = !!req.mirror;
  const graceMs = req.graceMs ?? settings.graceMs;
  const image = req.agentImage ?? settings.agentImage;
  const svc = await preflightIntercept(kube, namespace, req.service);
  const ports = agentPorts(svc, await namedPortNumbers(kube, namespace, svc));
  const hostPorts = hostPortMap(ports, req.ports ?? []);
  const internal = internalPorts(ports);
  const objects = agentObjects({ session, namespace, service: req.service, project: settings.project, image, ports, internal, graceMs, mirror, maxLifetimeSeconds: req.maxLifetimeSeconds });
  return { session, namespace, service: req.service, mirror, graceMs, image, ports, hostPorts, internal, objects, selector: agentSelector(session), svc };
}

/** The plan as `--dry-run` prints it. */
export function planSummary(p: InterceptPlan) {
  const o = p.objects;
  return {
    plan: "intercept",
    namespace: p.namespace,
    service: p.service,
    session: p.session,
    mirror: p.mirror,
    ports: p.ports.map((x) => ({ name: x.name, servicePort: x.servicePort, agentPort: x.listenPort, hostPort: p.hostPorts[x.stream] })),
    create: [o.serviceAccount, { ...o.secret, data: { token: "<32 random bytes, made at run time>" } }, o.job, o.role, o.roleBinding, o.networkPolicy],
    patch: { service: p.service, selector: p.selector },
  };
}

export async function runIntercept(deps: BridgeDeps, req: InterceptRequest): Promise<InterceptHandle> {
  const settings = await bridgeSettings(deps, req);
  const { kube, namespace } = settings;
  const phases: Record<string, number> = {};
  const t0 = performance.now();
  let tp = t0;
  const phase = (id: string, title: string, fn: () => Promise<unknown>) => async () => {
    deps.emit({ type: "step", id, title, status: "started" });
    try {
      const r = await fn();
      phases[id] = Math.round(performance.now() - tp);
      tp = performance.now();
      deps.emit({ type: "step", id, title, status: "done", detail: `${phases[id]} ms` });
      return r;
    } catch (e) {
      deps.emit({ type: "step", id, title, status: "failed" });
      throw e;
    }
  };

  // A CLI that died (kill -9, crash, laptop reboot) left its record; while its agent still holds the
  // Service (within the grace period), running the same intercept again resumes that session.
  const resumed = await resumable(deps, kube, namespace, req.service);
  if (resumed) return attach(deps, kube, resumed, phase, t0);

  const plan = (await phase("preflight", `check ${namespace}/${req.service}`, () => planIntercept(settings, req))()) as InterceptPlan;
  const { session, objects, ports, hostPorts } = plan;
  const secret = newTunnelSecret();
  const record: InterceptRecord = {
    mode: "intercept",
    session,
    context: kube.context,
    namespace,
    service: req.service,
    mirror: plan.mirror,
    ports: ports.map((p) => ({ name: p.name, servicePort: p.servicePort, hostPort: hostPorts[p.stream]! })),
    hostPorts,
    controlPort: plan.internal.control,
    secret,
    agent: agentName(session),
    kube: { ...settings.selection, namespace, context: kube.context },
    phases,
  };
  // recorded before anything exists in the cluster, so a crash mid-way leaves a trail to clean up
  await writeSession(deps.paths.state, "bridge", session, record);

  let tunnel: Tunnel | undefined;
  let statsTimer: ReturnType<typeof setInterval> | undefined;
  const teardown = async () => {
    if (statsTimer) clearInterval(statsTimer);
    const errors: unknown[] = [];
    // restoreSelector only touches the Service while its annotation names this session
    await restoreSelector(kube, namespace, req.service, session).catch((e) => errors.push(e));
    await tunnel?.stop().catch(() => {});
    await deleteAgentObjects(kube, namespace, session).catch((e) => errors.push(e));
    await removeSession(deps.paths.state, "bridge", session);
    if (errors.length) throw errors[0];
  };

  try {
    await phase("deploy", `deploy agent ${record.agent}`, async () => {
      const sa = await kube.create(namespace, "ServiceAccount", objects.serviceAccount);
      const saOwner = { apiVersion: "v1", kind: "ServiceAccount", metadata: sa.metadata };
      await kube.create(namespace, "Secret", ownedBy(withSecret(objects.secret, secret), saOwner));
      // the Job before the rest, so they can be owned by it (the agent uses none of them before the swap)
      const job = await kube.create(namespace, "Job", objects.job);
      const jobOwner = { apiVersion: "batch/v1", kind: "Job", metadata: job.metadata };
      await kube.create(namespace, "Role", ownedBy(objects.role, jobOwner));
      await kube.create(namespace, "RoleBinding", ownedBy(objects.roleBinding, jobOwner));
      await kube.create(namespace, "NetworkPolicy", ownedBy(objects.networkPolicy, jobOwner));
    })();
    const pod = (await phase("schedule", "wait for the agent pod", () => waitForAgentPod(kube, namespace, session, plan.image, req.readyTimeoutMs ?? 120_000, deps.signal))()) as Pod;
    record.agentPod = pod.metadata!.name!;
    tunnel = startTunnel({
      session,
      secret,
      version: VERSION,
      hostPorts,
      emit: deps.emit,
      dial: () => kube.portForward(namespace, record.agentPod!, record.controlPort),
      agentGone: () => agentGone(kube, namespace, record.agentPod!),
    });
    await phase("tunnel", "open the tunnel to the agent", () => tunnelUp(tunnel!, TUNNEL_TIMEOUT_MS))();
    await phase("swap", `point ${req.service} at the agent`, async () => {
      const fresh = await kube.readService(namespace, req.service);
      if (fresh.metadata?.annotations?.["devx.io/intercept"]) throw new ConflictError(`Service ${namespace}/${req.service} was intercepted by someone else meanwhile`, "try again once their intercept ends");
      await swapSelector(kube, fresh, plan.selector, {
        session,
        originalSelector: fresh.spec?.selector ?? {},
        ports: ports.map((p) => ({ name: p.name, port: p.servicePort, targetPort: p.targetPort })),
        since: new Date().toISOString(),
        mirror: plan.mirror,
        user: kube.user,
      });
    })();
    phases.total = Math.round(performance.now() - t0);
    await writeSession(deps.paths.state, "bridge", session, record);
    statsTimer = setInterval(() => {
      record.stats = tunnel?.stats;
      void writeSession(deps.paths.state, "bridge", session, record).catch(() => {});
    }, 1000);
  } catch (e) {
    await teardown().catch(() => {});
    throw e;
  }

  let stopping: Promise<void> | undefined;
  return {
    session,
    record,
    ready: Promise.resolve(),
    env: {},
    stats: () => tunnel?.stats,
    ended: tunnel.ended,
    dropTunnel: () => tunnel?.drop(),
    stop: () => (stopping ??= teardown()),
  };
}

/** How long a Ready agent may take to answer through the port-forward before the intercept gives up. */
const TUNNEL_TIMEOUT_MS = 30_000;

function tunnelUp(tunnel: Tunnel, timeoutMs: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new UnhealthyError(`the tunnel to the agent did not open within ${timeoutMs / 1000} s${tunnel.lastError() ? ` (${tunnel.lastError()})` : ""}`, "check that the agent image matches this devx version (bridge.agent_image) and `kubectl logs` of the agent pod")),
      timeoutMs,
    );
  });
  return Promise.race([tunnel.ready, late]).finally(() => clearTimeout(timer));
}

/** Numbers of named targetPorts on the Service's current pods, so the agent listens where they did. */
async function namedPortNumbers(kube: KubeBridge, namespace: string, svc: Service): Promise<Record<string, number>> {
  if (!(svc.spec?.ports ?? []).some((p) => typeof p.targetPort === "string" && !/^\d+$/.test(p.targetPort))) return {};
  const pods = await kube.listPods(namespace, labelSelector(svc.spec?.selector ?? {}));
  const out: Record<string, number> = {};
  for (const c of pods[0]?.spec?.containers ?? []) for (const p of c.ports ?? []) if (p.name) out[p.name] = p.containerPort;
  return out;
}

/**
 * For `devx up`: the same as runIntercept, shaped like startConnect, so a `runtime: bridge` node is
 * healthy once `ready` resolves and torn down by `stop()`.
 */
export function startIntercept(deps: BridgeDeps, req: InterceptRequest): { ready: Promise<void>; env: Record<string, string>; stop(): Promise<void>; handle: Promise<InterceptHandle> } {
  const handle = runIntercept(deps, req);
  handle.catch(() => {});
  return {
    ready: handle.then(() => undefined),
    env: {},
    handle,
    stop: async () => {
      const h = await handle.catch(() => undefined);
      await h?.stop();
    },
  };
}

type Phase = (id: string, title: string, fn: () => Promise<unknown>) => () => Promise<unknown>;

async function resumable(deps: BridgeDeps, kube: KubeBridge, namespace: string, service: string): Promise<InterceptRecord | undefined> {
  const recs = await listSessions<InterceptRecord>(deps.paths.state, "bridge");
  const rec = recs.find((r) => r.stale && r.data.mode === "intercept" && r.data.namespace === namespace && r.data.service === service && r.data.context === kube.context);
  if (!rec) return undefined;
  const svc = await kube.readService(namespace, service);
  // a record without the tunnel secret (written by an older devx) cannot authenticate to its agent
  if (readAnnotation(svc)?.session === rec.id && rec.data.agentPod && rec.data.secret && rec.data.controlPort) {
    const pod = await kube.readPod(namespace, rec.data.agentPod).catch(() => undefined);
    if (pod && podReady(pod)) return rec.data;
  }
  // too late: the agent healed (or is gone); clear what the dead CLI left, then start afresh
  await restoreSelector(kube, namespace, service, rec.id).catch(() => {});
  await deleteAgentObjects(kube, namespace, rec.id).catch(() => {});
  await removeSession(deps.paths.state, "bridge", rec.id);
  return undefined;
}

/** Take over a live agent: the tunnel only (the agent and the selector swap are already in place). */
async function attach(deps: BridgeDeps, kube: KubeBridge, record: InterceptRecord, phase: Phase, t0: number): Promise<InterceptHandle> {
  const { session, namespace } = record;
  deps.emit({ type: "info", message: `resuming intercept session ${session} of ${namespace}/${record.service} (its agent is still running)` });
  record.phases = { resumed: 1 };
  await writeSession(deps.paths.state, "bridge", session, record);
  const tunnel = startTunnel({
    session,
    secret: record.secret,
    version: VERSION,
    hostPorts: record.hostPorts,
    emit: deps.emit,
    dial: () => kube.portForward(namespace, record.agentPod!, record.controlPort),
    agentGone: () => agentGone(kube, namespace, record.agentPod!),
  });
  const teardown = async () => {
    clearInterval(statsTimer);
    const errors: unknown[] = [];
    await restoreSelector(kube, namespace, record.service, session).catch((e) => errors.push(e));
    await tunnel.stop().catch(() => {});
    await deleteAgentObjects(kube, namespace, session).catch((e) => errors.push(e));
    await removeSession(deps.paths.state, "bridge", session);
    if (errors.length) throw errors[0];
  };
  const statsTimer = setInterval(() => {
    record.stats = tunnel.stats;
    void writeSession(deps.paths.state, "bridge", session, record).catch(() => {});
  }, 1000);
  try {
    await phase("tunnel", "reopen the tunnel to the agent", () => tunnelUp(tunnel, TUNNEL_TIMEOUT_MS))();
  } catch (e) {
    await teardown().catch(() => {});
    throw e;
  }
  record.phases.total = Math.round(performance.now() - t0);
  let stopping: Promise<void> | undefined;
  return { session, record, ready: Promise.resolve(), env: {}, stats: () => tunnel.stats, ended: tunnel.ended, dropTunnel: () => tunnel.drop(), stop: () => (stopping ??= teardown()) };
}
