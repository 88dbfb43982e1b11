import { createServer, type Server, type Socket } from "node:net";
import type { KubeBridge, Pod, Service, ServicePort } from "../../../providers/kube/bridge.ts";
import { ConflictError, UsageError } from "../../errors.ts";
import { removeSession, writeSession } from "../../platform/sessions.ts";
import { bridgeSettings, envPrefix, randomSession, type BridgeDeps, type KubeSelection } from "./settings.ts";
import { schemeFor, updateBridgeEnv } from "./env.ts";
import { connectNeeds } from "./rbac.ts";
import { missingPermissions, permissionError } from "./preflight.ts";
import { labelSelector } from "../../../providers/kube/intercept-selector.ts";

/**
 * `devx bridge connect`: each target Service gets a listener on 127.0.0.1; every accepted connection
 * becomes its own WebSocket port-forward to a ready pod of the Service. A watch on the Service's
 * pods keeps the chosen pod current, so after a pod restart new connections reach the replacement
 * as soon as it is Ready (no polling).
 */
export interface ConnectTarget {
  service: string;
  /** Service port name or number; the first port when absent */
  port?: string;
  /** host port; the Service port when absent */
  local?: number;
}

export function parseTarget(spec: string): ConnectTarget {
  const m = /^([a-z0-9]([a-z0-9.-]*[a-z0-9])?)(?::([a-z0-9-]+))?(?::(\d+))?$/.exec(spec);
  if (!m) throw new UsageError(`bad target "${spec}"`, "use -t <service>[:<port name or number>[:<host port>]]");
  const local = m[4] ? Number(m[4]) : undefined;
  if (local !== undefined && (local < 1 || local > 65535)) throw new UsageError(`bad host port in "${spec}"`, "host ports are 1-65535");
  return { service: m[1]!, port: m[3], local };
}

export interface ForwardState {
  service: string;
  namespace: string;
  port: string;
  servicePort: number;
  host: string;
  hostPort: number;
  pod?: string;
  state: "ready" | "waiting";
  connections: number;
  active: number;
  bytesIn: number;
  bytesOut: number;
  redials: number;
}

export interface ConnectOptions extends KubeSelection {
  autoPort?: boolean;
  /** how long a connection waits for a ready pod before it is closed */
  podWaitMs?: number;
}

export interface ConnectHandle {
  session: string;
  forwards: ForwardState[];
  ready: Promise<void>;
  env: Record<string, string>;
  stop(): Promise<void>;
}

const isReady = (p: Pod) => !p.metadata?.deletionTimestamp && p.status?.phase === "Running" && !!p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True");

async function listenOn(port: number, autoPort: boolean, emit: BridgeDeps["emit"], label: string): Promise<{ server: Server; port: number }> {
  for (let p = port, tries = 0; ; p++, tries++) {
    const server = createServer({ allowHalfOpen: true });
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      server.once("error", (e) => resolve(e as NodeJS.ErrnoException));
      server.listen(p, "127.0.0.1", () => resolve(undefined));
    });
    if (!err) {
      if (p !== port) emit({ type: "info", message: `127.0.0.1:${port} is busy; ${label} uses 127.0.0.1:${p} instead` });
      return { server, port: p };
    }
    if (err.code !== "EADDRINUSE") throw err;
    if (!autoPort) throw new ConflictError(`127.0.0.1:${port} is already in use (wanted for ${label})`, `free the port, pick another with -t ${label}:<host port>, or pass --auto-port`);
    if (tries >= 100 || p >= 65535) throw new ConflictError(`no free host port in ${port}-${p} for ${label}`, "free a port or pick one with -t svc:port:<host port>");
  }
}

function targetPortOn(pod: Pod, sp: ServicePort): number | undefined {
  const tp = sp.targetPort ?? sp.port;
  if (typeof tp === "number") return tp;
  if (/^\d+$/.test(tp)) return Number(tp);
  return pod.spec?.containers.flatMap((c) => c.ports ?? []).find((p) => p.name === tp)?.containerPort;
}

async function startForward(deps: BridgeDeps, kube: KubeBridge, namespace: string, t: ConnectTarget, o: ConnectOptions, signal: AbortSignal) {
  const svc: Service = await kube.readService(namespace, t.service);
  const ports = svc.spec?.ports ?? [];
  const sp = t.port ? ports.find((p) => p.name === t.port || String(p.port) === t.port) : ports[0];
  if (!sp) throw new UsageError(`Service ${namespace}/${t.service} has no port "${t.port ?? ""}"`, `its ports are: ${ports.map((p) => p.name ?? p.port).join(", ") || "none"}`);
  const selector = svc.spec?.selector;
  if (!selector || !Object.keys(selector).length) throw new UsageError(`Service ${namespace}/${t.service} has no selector, so it has no pods to forward to`, "connect to a Service that selects pods");
  const label = `${t.service}:${sp.name ?? sp.port}`;
  const { server, port: hostPort } = await listenOn(t.local ?? sp.port, !!o.autoPort, deps.emit, t.service);
  const state: ForwardState = { service: t.service, namespace, port: sp.name ?? String(sp.port), servicePort: sp.port, host: "127.0.0.1", hostPort, state: "waiting", connections: 0, active: 0, bytesIn: 0, bytesOut: 0, redials: 0 };

  const pods = new Map<string, Pod>();
  let current: Pod | undefined;
  let lastPod: string | undefined;
  let waiters: Array<() => void> = [];
  let recheckSelector: () => Promise<void> = async () => {};
  const choose = () => {
    if (current && pods.has(current.metadata!.name!) && isReady(pods.get(current.metadata!.name!)!)) return;
    const prev = current?.metadata?.name;
    if (prev) lastPod = prev;
    current = [...pods.values()].find(isReady);
    state.pod = current?.metadata?.name;
    state.state = current ? "ready" : "waiting";
    if (current) {
      if (lastPod) state.redials++;
      deps.emit({ type: "state", node: `bridge/${t.service}`, state: "ready", detail: { pod: state.pod, hostPort } });
      deps.emit({ type: "info", message: `${label} → pod ${state.pod}${lastPod ? ` (was ${lastPod})` : ""} on 127.0.0.1:${hostPort}` });
      for (const w of waiters) w();
      waiters = [];
    } else if (prev) {
      deps.emit({ type: "warning", message: `${label}: pod ${prev} is gone; waiting for a ready pod`, hint: "connections wait for the replacement" });
      deps.emit({ type: "state", node: `bridge/${t.service}`, state: "waiting" });
      void recheckSelector();
    }
  };
  let firstSync!: () => void;
  const synced = new Promise<void>((r) => (firstSync = r));
  // The pods of the Service's selector as it is now; a new selector (seen when re-dialling) restarts it.
  let selectorKey = JSON.stringify(selector);
  let podWatch: AbortController | undefined;
  const watchPods = (sel: Record<string, string>) => {
    podWatch?.abort();
    const mine = (podWatch = new AbortController());
    signal.addEventListener("abort", () => mine.abort(), { once: true });
    pods.clear();
    void kube.watchPods(
      namespace,
      labelSelector(sel),
      (ev) => {
        if (mine !== podWatch) return;
        const name = ev.object.metadata!.name!;
        if (ev.type === "DELETED") pods.delete(name);
        else pods.set(name, ev.object);
        choose();
      },
      mine.signal,
      { onSync: () => pods.clear(), onListed: () => firstSync(), onError: (e) => (firstSync(), deps.emit({ type: "warning", message: `watching pods of ${t.service}: ${(e as Error).message}; retrying` })) },
    );
  };
  // Re-dialling (the pod is gone, none ready in its place): the Service may select other pods now.
  let rechecking = false;
  recheckSelector = async () => {
    if (rechecking || signal.aborted) return;
    rechecking = true;
    try {
      const fresh = await kube.readService(namespace, t.service);
      const sel = fresh.spec?.selector;
      if (sel && Object.keys(sel).length && JSON.stringify(sel) !== selectorKey) {
        selectorKey = JSON.stringify(sel);
        deps.emit({ type: "info", message: `${label}: the Service now selects ${labelSelector(sel)}; following it` });
        watchPods(sel);
      }
    } catch {
      // unreadable for now: keep waiting on the pods of the selector we know
    } finally {
      rechecking = false;
    }
  };
  watchPods(selector);

  const readyPod = (ms: number) =>
    new Promise<Pod | undefined>((resolve) => {
      if (current) return resolve(current);
      const timer = setTimeout(() => resolve(current), ms);
      waiters.push(() => (clearTimeout(timer), resolve(current)));
    });

  const sockets = new Set<Socket>();
  server.on("connection", async (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.setNoDelay(true);
    socket.pause();
    state.connections++;
    for (let attempt = 0; attempt < 3 && !socket.destroyed; attempt++) {
      const pod = await readyPod(o.podWaitMs ?? 10_000);
      const port = pod && targetPortOn(pod, sp);
      if (!pod || !port) break;
      try {
        const pf = await kube.portForward(namespace, pod.metadata!.name!, port);
        state.active++;
        socket.on("data", (c: Buffer) => (state.bytesOut += c.length));
        pf.on("data", (c: Buffer) => (state.bytesIn += c.length));
        socket.pipe(pf);
        pf.pipe(socket);
        socket.resume();
        const end = () => {
          pf.destroy();
          socket.destroy();
        };
        pf.on("error", end);
        socket.on("error", end);
        pf.on("close", end);
        socket.on("close", () => {
          state.active--;
          end();
        });
        return;
      } catch (e) {
        deps.emit({ type: "warning", message: `${label}: port-forward to ${pod.metadata?.name} failed (${(e as Error).message.split("\n")[0]}); retrying` });
        await Bun.sleep(100 * 2 ** attempt);
      }
    }
    socket.destroy();
  });
  await synced;
  return {
    state,
    scheme: schemeFor(sp),
    stop: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export async function runConnect(deps: BridgeDeps, targets: ConnectTarget[], o: ConnectOptions = {}): Promise<ConnectHandle> {
  if (!targets.length) throw new UsageError("nothing to connect", "pass -t <service>[:port[:host port]] or set bridge.targets in devx.yaml");
  const settings = await bridgeSettings(deps, o);
  const { kube, namespace } = settings;
  const missing = await missingPermissions(kube, namespace, connectNeeds());
  if (missing.length) throw permissionError(missing, namespace, "connecting");
  const session = randomSession();
  const ac = new AbortController();
  deps.signal.addEventListener("abort", () => ac.abort(), { once: true });
  const started: Array<Awaited<ReturnType<typeof startForward>>> = [];
  const env: Record<string, string> = {};
  const record = () => ({ mode: "connect", session, context: kube.context, namespace, kube: { ...settings.selection, namespace, context: kube.context }, forwards: started.map((f) => f.state), env });
  try {
    for (const t of targets) {
      const f = await startForward(deps, kube, namespace, t, o, ac.signal);
      started.push(f);
      const p = envPrefix(t.service);
      Object.assign(env, { [`${p}_HOST`]: "127.0.0.1", [`${p}_PORT`]: String(f.state.hostPort), [`${p}_URL`]: `${f.scheme}://127.0.0.1:${f.state.hostPort}` });
    }
  } catch (e) {
    ac.abort();
    await Promise.all(started.map((f) => f.stop()));
    throw e;
  }
  await updateBridgeEnv(deps.paths.state, env);
  await writeSession(deps.paths.state, "bridge", session, record());
  const timer = setInterval(() => void writeSession(deps.paths.state, "bridge", session, record()).catch(() => {}), 1000);
  let stopping: Promise<void> | undefined;
  return {
    session,
    forwards: started.map((f) => f.state),
    ready: Promise.resolve(),
    env,
    stop: () =>
      (stopping ??= (async () => {
        clearInterval(timer);
        ac.abort();
        await Promise.all(started.map((f) => f.stop()));
        await updateBridgeEnv(deps.paths.state, {}, Object.keys(env));
        await removeSession(deps.paths.state, "bridge", session);
      })()),
  };
}

/** For `devx up`: a handle right away; `ready` resolves when every listener is up. */
export function startConnect(deps: BridgeDeps, targets: ConnectTarget[], o: ConnectOptions = {}): { ready: Promise<void>; env: Record<string, string>; stop(): Promise<void>; handle: Promise<ConnectHandle> } {
  const handle = runConnect(deps, targets, o);
  handle.catch(() => {});
  const env: Record<string, string> = {};
  return {
    ready: handle.then((h) => void Object.assign(env, h.env)),
    env,
    handle,
    stop: async () => (await handle.catch(() => undefined))?.stop(),
  };
}
