import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import YAML from "yaml";
import { type AppHandler, type AppPod, appPodObject, type AppPodSpec, startAppServers } from "./apps.ts";
import { clusterCerts, TEST_USER } from "./certs.ts";
import { applyDefaults, validate } from "./defaults.ts";
import { Deleter } from "./gc.ts";
import { JobController, randomSuffix } from "./jobs.ts";
import { ServiceProxy } from "./proxy.ts";
import { Authorizer, type DenyRule, type Identity } from "./rbac.ts";
import { Scheduler } from "./scheduler.ts";
import { startApiServer } from "./server.ts";
import { type KubeObject, resourceByKind, Store, type StoreEvent } from "./store.ts";
import { Watches } from "./watch.ts";

export type { AppHandler, AppPod, AppPodSpec, AppPodInfo } from "./apps.ts";
export { echoPod } from "./apps.ts";
export type { DenyRule } from "./rbac.ts";
export type { KubeObject } from "./store.ts";

export interface FakeClusterOptions {
  /** Container image → local executable; a Job pod runs `[exe, ...command.slice(1), ...args]`. */
  images?: Record<string, string>;
  /** The kubeconfig context's namespace (created if missing). Default "default". */
  namespace?: string;
  /**
   * The Kubernetes version served, "1.30" to "1.35" (default "1.35"): /version reports it, and it
   * decides how a WebSocket port-forward is authorized (`get`, plus `create` from 1.35).
   */
  version?: string;
}

/** A change to a stored object, in commit order. */
export interface ClusterEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  kind: string;
  namespace?: string;
  name: string;
  resourceVersion: string;
}

export interface FakeCluster extends AsyncDisposable {
  kubeconfigPath: string;
  kubeconfig: string;
  apiUrl: string;
  namespace: string;
  /** PEM material for clients that must pass TLS settings themselves (Bun's fetch `tls` option). */
  tls: { ca: string; cert: string; key: string };
  addAppPod(spec: AppPodSpec, handler?: AppHandler): Promise<AppPod>;
  /** Kills the pod and brings up a replacement (new name `<name>-<5 chars>`, new IP); resolves once it is Ready. */
  restartPod(name: string, opts?: { namespace?: string; readyDelayMs?: number; onTerminated?: () => void }): Promise<AppPod>;
  /** Deletes a pod as the API would (graceful) and resolves once it is gone. */
  deletePod(name: string, namespace?: string): Promise<void>;
  /** `127.0.0.1:<port>` of the service proxy for a Service port (by name or number). */
  serviceAddress(namespace: string, service: string, port: string | number): string;
  /** Cuts every open port-forward WebSocket abruptly (a network drop); returns how many were open. */
  dropPortForwards(): number;
  denyVerbs(rules: DenyRule[]): void;
  allowAll(): void;
  /**
   * From now on the test user (kubeconfigPath) may do only what Roles bound to it grant (as User
   * `devx-test-user` or Group `devx-testers`); `adminKubeconfigPath` (system:masters) may do anything.
   */
  enforceRbac(): void;
  /** A kubeconfig for an administrator (bearer token, group system:masters), e.g. to apply RBAC. */
  adminKubeconfigPath: string;
  /** Every request body the API server received (JSON), in order: what a client sent, for assertions. */
  bodies: { method: string; path: string; body: unknown }[];
  objects(kind: string, namespace?: string): KubeObject[];
  get(kind: string, namespace: string | undefined, name: string): KubeObject | undefined;
  /** Resolves with the object once `predicate` holds (checked now and on every change); rejects after timeoutMs. */
  waitFor(kind: string, namespace: string | undefined, name: string, predicate: (o: KubeObject | undefined) => boolean, timeoutMs?: number): Promise<KubeObject | undefined>;
  podLogs(namespace: string, name: string): string;
  events: ClusterEvent[];
  requests: { method: string; path: string; user: string; status: number }[];
  /** Connections the service proxy carried per `ns/service`. */
  proxyConnections(namespace: string, service: string): number;
  stop(): Promise<void>;
}

const PODS = resourceByKind("Pod");

export async function startFakeCluster(options: FakeClusterOptions = {}): Promise<FakeCluster> {
  const certs = clusterCerts();
  const namespace = options.namespace ?? "default";
  const minor = Number(/^1\.(\d+)$/.exec(options.version ?? "1.35")?.[1]);
  if (!(minor >= 30 && minor <= 35)) throw new Error(`fake-kube: version ${options.version} is not one of 1.30-1.35`);
  const root = process.env.DEVX_TEST_ROOT ?? tmpdir();
  mkdirSync(root, { recursive: true });
  const workDir = mkdtempSync(join(root, "fake-kube-"));
  // pods run as their runAsUser: their directories live where any uid can reach them (not under the 0700 test root)
  const podsDir = mkdtempSync(join(tmpdir(), "fake-kube-pods-"));
  chmodSync(podsDir, 0o755);
  // outside the test root, which the preload removes: a test process that dies without stop() must not leave it
  process.once("exit", () => rmSync(podsDir, { recursive: true, force: true }));
  const store = new Store();
  const tokens = new Map<string, Identity>();
  let apiPort = 0;
  const scheduler = new Scheduler(store, {
    images: options.images ?? {},
    apiPort: () => apiPort,
    caCert: certs.caCert,
    workDir: podsDir,
    issueToken: (ns, sa) => {
      const token = randomBytes(24).toString("base64url");
      tokens.set(token, { user: `system:serviceaccount:${ns}:${sa}`, groups: ["system:serviceaccounts", `system:serviceaccounts:${ns}`, "system:authenticated"], serviceAccount: { namespace: ns, name: sa } });
      return token;
    },
  });
  const deleter = new Deleter(store, scheduler);
  const jobs = new JobController(store, deleter);
  const proxy = new ServiceProxy(store);
  const authz = new Authorizer(store);
  const watches = new Watches(store);
  const events: ClusterEvent[] = [];
  store.subscribe((ev: StoreEvent) => {
    events.push({ type: ev.type, kind: ev.rt.kind, namespace: ev.object.metadata.namespace, name: ev.object.metadata.name, resourceVersion: ev.object.metadata.resourceVersion! });
  });
  for (const ns of new Set(["default", "kube-system", namespace])) {
    const o: KubeObject = { metadata: { name: ns } };
    applyDefaults(resourceByKind("Namespace"), o);
    store.create(resourceByKind("Namespace"), o);
    store.create(resourceByKind("ServiceAccount"), { metadata: { name: "default", namespace: ns } });
  }
  const adminToken = randomBytes(24).toString("base64url");
  tokens.set(adminToken, { user: "fake-kube-admin", groups: ["system:masters", "system:authenticated"] });
  const requests: FakeCluster["requests"] = [];
  const bodies: FakeCluster["bodies"] = [];
  const api = await startApiServer({ certs, minor, ctx: { store, authz, deleter, watches, scheduler }, tokens, requests, bodies });
  apiPort = api.port;

  const kubeconfig = YAML.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "fake", cluster: { server: api.url, "certificate-authority-data": Buffer.from(certs.caCert).toString("base64") } }],
    users: [{ name: TEST_USER, user: { "client-certificate-data": Buffer.from(certs.clientCert).toString("base64"), "client-key-data": Buffer.from(certs.clientKey).toString("base64") } }],
    contexts: [{ name: "fake", context: { cluster: "fake", user: TEST_USER, namespace } }],
    "current-context": "fake",
    preferences: {},
  });
  const kubeconfigPath = join(workDir, "kubeconfig");
  writeFileSync(kubeconfigPath, kubeconfig, { mode: 0o600 });
  const adminKubeconfigPath = join(workDir, "admin-kubeconfig");
  writeFileSync(adminKubeconfigPath, YAML.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "fake", cluster: { server: api.url, "certificate-authority-data": Buffer.from(certs.caCert).toString("base64") } }],
    users: [{ name: "admin", user: { token: adminToken } }],
    contexts: [{ name: "fake-admin", context: { cluster: "fake", user: "admin", namespace } }],
    "current-context": "fake-admin",
  }), { mode: 0o600 });

  /** What a test's app pods were made of, so restartPod can make the same again. */
  const apps = new Map<string, { spec: AppPodSpec; handler?: AppHandler; base: string }>();

  const waitFor: FakeCluster["waitFor"] = (kind, ns, name, predicate, timeoutMs = 10_000) => {
    const rt = resourceByKind(kind);
    return new Promise((resolve, reject) => {
      const now = store.get(rt, ns, name);
      if (predicate(now)) return resolve(now);
      const timer = setTimeout(() => {
        off();
        reject(new Error(`fake-kube: timed out after ${timeoutMs} ms waiting for ${kind} ${ns ?? ""}/${name}: ${JSON.stringify(store.get(rt, ns, name)?.status ?? "absent")}`));
      }, timeoutMs);
      const off = store.subscribe((ev) => {
        if (ev.rt !== rt || ev.object.metadata.name !== name || (rt.namespaced && ev.object.metadata.namespace !== ns)) return;
        const cur = ev.type === "DELETED" ? undefined : store.get(rt, ns, name);
        if (!predicate(cur)) return;
        clearTimeout(timer);
        off();
        resolve(cur);
      });
    });
  };
  const isReady = (p: KubeObject | undefined) => !!p && (p.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True");

  const addAppPod = async (spec: AppPodSpec, handler?: AppHandler, base = spec.name): Promise<AppPod> => {
    const ns = spec.namespace ?? namespace;
    const obj = appPodObject(spec, ns);
    applyDefaults(PODS, obj);
    validate(PODS, obj);
    if (store.get(PODS, ns, spec.name)) throw new Error(`fake-kube: pod ${ns}/${spec.name} already exists`);
    apps.set(`${ns}/${spec.name}`, { spec, handler, base });
    scheduler.provide(ns, spec.name, async (pod, ip) => startAppServers(pod, ip, spec, handler));
    store.create(PODS, obj);
    const ready = await waitFor("Pod", ns, spec.name, isReady, 10_000 + (spec.readyDelayMs ?? 0));
    return { name: spec.name, namespace: ns, ip: ready!.status.podIP, object: ready! };
  };

  const deletePod = async (name: string, ns = namespace) => {
    deleter.delete(PODS, ns, name, { gracePeriodSeconds: 0 });
    await waitFor("Pod", ns, name, (p) => !p);
    apps.delete(`${ns}/${name}`);
  };

  const cluster: FakeCluster = {
    kubeconfigPath,
    kubeconfig,
    apiUrl: api.url,
    namespace,
    tls: { ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey },
    addAppPod: (spec, handler) => addAppPod(spec, handler),
    async restartPod(name, opts = {}) {
      const ns = opts.namespace ?? namespace;
      const app = apps.get(`${ns}/${name}`);
      if (!app) throw new Error(`fake-kube: ${ns}/${name} is not an app pod of this cluster`);
      await deletePod(name, ns);
      opts.onTerminated?.();
      const next = `${app.base}-${randomSuffix()}`;
      return addAppPod({ ...app.spec, name: next, namespace: ns, readyDelayMs: opts.readyDelayMs }, app.handler, app.base);
    },
    deletePod,
    serviceAddress: (ns, svc, port) => proxy.address(ns, svc, port),
    dropPortForwards: () => api.dropPortForwards(),
    denyVerbs: (rules) => authz.deny(rules),
    allowAll: () => authz.allowAll(),
    enforceRbac: () => authz.enforce(),
    adminKubeconfigPath,
    bodies,
    objects: (kind, ns) => store.list(resourceByKind(kind), ns),
    get: (kind, ns, name) => store.get(resourceByKind(kind), ns, name),
    waitFor,
    podLogs: (ns, name) => scheduler.logs(ns, name),
    events,
    requests,
    proxyConnections: (ns, svc) => proxy.connections.get(`${ns}/${svc}`) ?? 0,
    async stop() {
      jobs.stopAll();
      await scheduler.stopAll();
      proxy.stopAll();
      await api.stop();
      rmSync(workDir, { recursive: true, force: true });
      rmSync(podsDir, { recursive: true, force: true });
    },
    async [Symbol.asyncDispose]() {
      await cluster.stop();
    },
  };
  return cluster;
}
