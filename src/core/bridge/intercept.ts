import type { V1Pod, V1Service } from "@kubernetes/client-node";
import { kcall, statusOf, type KubeClient } from "../../../providers/kube/client.ts";
import { openPortForward } from "../../../providers/kube/port-forward.ts";
import { watchList } from "../../../providers/kube/watch.ts";
import { ConflictError, ProviderError, UnhealthyError, UsageError } from "../../errors.ts";
import { listSessions, removeSession, writeSession } from "../../platform/sessions.ts";
import { VERSION } from "../../version.ts";
import { CONTROL_PORT, agentName, agentObjects, agentPorts, agentSelector, ownedByJob, type AgentPort } from "./agent-spec.ts";
import { bridgeSettings, randomSession, type BridgeDeps, type KubeSelection } from "./context.ts";
import { preflightIntercept } from "./preflight.ts";
import { labelSelector, readAnnotation, restoreSelector, swapSelector } from "./selector.ts";
import { startTunnel, type Tunnel, type TunnelStats } from "./tunnel.ts";

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

/** `--port remote[:host]` → Service port name → host port. */
export function hostPortMap(ports: AgentPort[], specs: string[]): Record<string, number> {
  const map: Record<string, number> = Object.fromEntries(ports.map((p) => [p.name, p.servicePort]));
  for (const spec of specs) {
    const m = /^([a-z0-9-]+)(?::(\d+))?$/i.exec(spec);
    if (!m) throw new UsageError(`bad --port "${spec}"`, "use --port <service port name or number>[:<host port>]");
    const p = ports.find((x) => x.name === m[1] || String(x.servicePort) === m[1]);
    if (!p) throw new UsageError(`the Service has no port "${m[1]}"`, `its ports are: ${ports.map((x) => `${x.name} (${x.servicePort})`).join(", ")}`);
    const host = m[2] ? Number(m[2]) : p.servicePort;
    if (host < 1 || host > 65535) throw new UsageError(`bad host port in --port "${spec}"`, "host ports are 1-65535");
    map[p.name] = host;
  }
  return map;
}

const isReady = (p: V1Pod) => p.status?.phase === "Running" && !!p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True");

/** Wait for the session's agent pod to be Ready, through a watch (no polling). */
export function waitForAgentPod(kube: KubeClient, namespace: string, session: string, timeoutMs: number, signal: AbortSignal): Promise<V1Pod> {
  const ac = new AbortController();
  const stop = () => ac.abort();
  signal.addEventListener("abort", stop, { once: true });
  return new Promise<V1Pod>((resolve, reject) => {
    const timer = setTimeout(() => reject(new UnhealthyError(`the agent pod for session ${session} was not ready after ${Math.round(timeoutMs / 1000)} s`, "check `kubectl describe pod -l devx.session=" + session + "` (image pull? quota?)")), timeoutMs);
    const done = () => {
      clearTimeout(timer);
      ac.abort();
      signal.removeEventListener("abort", stop);
    };
    signal.addEventListener("abort", () => (done(), reject(signal.reason)), { once: true });
    void watchList<V1Pod>(
      kube,
      `/api/v1/namespaces/${namespace}/pods`,
      { labelSelector: `devx.session=${session}` },
      (ev) => {
        const pod = ev.object;
        if (ev.type === "DELETED") return;
        const waiting = pod.status?.containerStatuses?.[0]?.state?.waiting;
        if (pod.status?.phase === "Failed" || pod.status?.phase === "Succeeded" || waiting?.reason === "ErrImagePull" || waiting?.reason === "ImagePullBackOff") {
          done();
          reject(new ProviderError(`the agent pod ${pod.metadata?.name} ${waiting?.reason ?? pod.status?.phase}${waiting?.message ? `: ${waiting.message}` : ""}`, "build the agent image (`bun scripts/build-agent-image.ts`) or set bridge.agent_image to one the cluster can pull"));
        } else if (isReady(pod)) {
          done();
          resolve(pod);
        }
      },
      ac.signal,
    );
  });
}

export async function deleteAgentObjects(kube: KubeClient, namespace: string, session: string): Promise<void> {
  const name = agentName(session);
  const ignore404 = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (e) {
      if (statusOf(e) !== 404) await kcall(what, () => Promise.reject(e));
    }
  };
  await ignore404(`delete Job ${name}`, () => kube.batch.deleteNamespacedJob({ name, namespace, propagationPolicy: "Background" }));
  await ignore404(`delete RoleBinding ${name}`, () => kube.rbac.deleteNamespacedRoleBinding({ name, namespace }));
  await ignore404(`delete Role ${name}`, () => kube.rbac.deleteNamespacedRole({ name, namespace }));
  await ignore404(`delete ServiceAccount ${name}`, () => kube.core.deleteNamespacedServiceAccount({ name, namespace }));
  await podsGone(kube, namespace, session, 20_000);
}

/**
 * Job deletion removes its pods in the background (the agent gets SIGTERM and exits); wait for that,
 * through a watch, so "disconnected" means nothing of the session is left.
 */
async function podsGone(kube: KubeClient, namespace: string, session: string, timeoutMs: number): Promise<void> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const pods = new Set<string>();
  let listed = false;
  await new Promise<void>((resolve) => {
    ac.signal.addEventListener("abort", () => resolve(), { once: true });
    const check = () => listed && pods.size === 0 && (ac.abort(), resolve());
    void watchList<V1Pod>(
      kube,
      `/api/v1/namespaces/${namespace}/pods`,
      { labelSelector: `devx.session=${session}` },
      (ev) => {
        if (ev.type === "DELETED") pods.delete(ev.object.metadata!.name!);
        else pods.add(ev.object.metadata!.name!);
        check();
      },
      ac.signal,
      { onSync: () => pods.clear(), onListed: () => ((listed = true), check()) },
    );
  });
  clearTimeout(timer);
}

export async function runIntercept(deps: BridgeDeps, req: InterceptRequest): Promise<InterceptHandle> {
  const settings = await bridgeSettings(deps, req);
  const { kube, namespace } = settings;
  const mirror = !!req.mirror;
  const graceMs = req.graceMs ?? settings.graceMs;
  const session = randomSession();
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

  const svc = (await phase("preflight", `check ${namespace}/${req.service}`, () => preflightIntercept(kube, namespace, req.service, mirror))()) as V1Service;
  const ports = agentPorts(svc, await namedPortNumbers(kube, namespace, svc));
  const hostPorts = hostPortMap(ports, req.ports ?? []);
  const objects = agentObjects({ session, namespace, service: req.service, project: settings.project, image: req.agentImage ?? settings.agentImage, ports, graceMs, mirror, maxLifetimeSeconds: req.maxLifetimeSeconds });
  const record: InterceptRecord = {
    mode: "intercept",
    session,
    context: kube.context,
    namespace,
    service: req.service,
    mirror,
    ports: ports.map((p) => ({ name: p.name, servicePort: p.servicePort, hostPort: hostPorts[p.name]! })),
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
      await kcall("create ServiceAccount", () => kube.core.createNamespacedServiceAccount({ namespace, body: objects.serviceAccount }));
      // the Job first, so the Role and RoleBinding can be owned by it (the agent uses neither before the swap)
      const job = await kcall("create Job", () => kube.batch.createNamespacedJob({ namespace, body: objects.job }));
      await kcall("create Role", () => kube.rbac.createNamespacedRole({ namespace, body: ownedByJob(objects.role, job) }));
      await kcall("create RoleBinding", () => kube.rbac.createNamespacedRoleBinding({ namespace, body: ownedByJob(objects.roleBinding, job) }));
    })();
    const pod = (await phase("schedule", "wait for the agent pod", () => waitForAgentPod(kube, namespace, session, req.readyTimeoutMs ?? 120_000, deps.signal))()) as V1Pod;
    record.agentPod = pod.metadata!.name!;
    tunnel = startTunnel({
      session,
      version: VERSION,
      hostPorts,
      emit: deps.emit,
      dial: () => openPortForward(kube, namespace, record.agentPod!, CONTROL_PORT),
      agentGone: () => agentGone(kube, namespace, record.agentPod!),
    });
    await phase("tunnel", "open the tunnel to the agent", () => tunnel!.ready)();
    await phase("swap", `point ${req.service} at the agent`, async () => {
      const fresh = await kcall(`read Service ${req.service}`, () => kube.core.readNamespacedService({ name: req.service, namespace }));
      if (fresh.metadata?.annotations?.["devx.io/intercept"]) throw new ConflictError(`Service ${namespace}/${req.service} was intercepted by someone else meanwhile`, "try again once their intercept ends");
      await kcall(`patch Service ${req.service}`, () =>
        swapSelector(kube, fresh, agentSelector(session), {
          session,
          originalSelector: fresh.spec?.selector ?? {},
          ports: ports.map((p) => ({ name: p.name, port: p.servicePort, targetPort: p.targetPort })),
          since: new Date().toISOString(),
          mirror,
          user: kube.kc.getCurrentUser()?.name,
        }),
      );
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

/** Numbers of named targetPorts on the Service's current pods, so the agent listens where they did. */
async function namedPortNumbers(kube: KubeClient, namespace: string, svc: V1Service): Promise<Record<string, number>> {
  if (!(svc.spec?.ports ?? []).some((p) => typeof p.targetPort === "string" && !/^\d+$/.test(p.targetPort))) return {};
  const pods = await kcall("list pods", () => kube.core.listNamespacedPod({ namespace, labelSelector: labelSelector(svc.spec?.selector ?? {}) }));
  const out: Record<string, number> = {};
  for (const c of pods.items[0]?.spec?.containers ?? []) for (const p of c.ports ?? []) if (p.name) out[p.name] = p.containerPort;
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

async function resumable(deps: BridgeDeps, kube: KubeClient, namespace: string, service: string): Promise<InterceptRecord | undefined> {
  const recs = await listSessions<InterceptRecord>(deps.paths.state, "bridge");
  const rec = recs.find((r) => r.stale && r.data.mode === "intercept" && r.data.namespace === namespace && r.data.service === service && r.data.context === kube.context);
  if (!rec) return undefined;
  const svc = await kcall(`read Service ${service}`, () => kube.core.readNamespacedService({ name: service, namespace }));
  if (readAnnotation(svc)?.session === rec.id && rec.data.agentPod) {
    const pod = await kube.core.readNamespacedPod({ name: rec.data.agentPod, namespace }).catch(() => undefined);
    if (pod && isReady(pod)) return rec.data;
  }
  // too late: the agent healed (or is gone); clear what the dead CLI left, then start afresh
  await restoreSelector(kube, namespace, service, rec.id).catch(() => {});
  await deleteAgentObjects(kube, namespace, rec.id).catch(() => {});
  await removeSession(deps.paths.state, "bridge", rec.id);
  return undefined;
}

/** Take over a live agent: the tunnel only (the agent and the selector swap are already in place). */
async function attach(deps: BridgeDeps, kube: KubeClient, record: InterceptRecord, phase: Phase, t0: number): Promise<InterceptHandle> {
  const { session, namespace } = record;
  deps.emit({ type: "info", message: `resuming intercept session ${session} of ${namespace}/${record.service} (its agent is still running)` });
  record.phases = { resumed: 1 };
  await writeSession(deps.paths.state, "bridge", session, record);
  const tunnel = startTunnel({
    session,
    version: VERSION,
    hostPorts: Object.fromEntries(record.ports.map((p) => [p.name, p.hostPort])),
    emit: deps.emit,
    dial: () => openPortForward(kube, namespace, record.agentPod!, CONTROL_PORT),
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
    await phase("tunnel", "reopen the tunnel to the agent", () => tunnel.ready)();
  } catch (e) {
    await teardown().catch(() => {});
    throw e;
  }
  record.phases.total = Math.round(performance.now() - t0);
  let stopping: Promise<void> | undefined;
  return { session, record, ready: Promise.resolve(), env: {}, stats: () => tunnel.stats, ended: tunnel.ended, dropTunnel: () => tunnel.drop(), stop: () => (stopping ??= teardown()) };
}

async function agentGone(kube: KubeClient, namespace: string, pod: string): Promise<boolean> {
  const p = await kube.core.readNamespacedPod({ name: pod, namespace }).catch((e) => (statusOf(e) === 404 ? undefined : Promise.reject(e)));
  return !p || p.status?.phase === "Succeeded" || p.status?.phase === "Failed";
}
