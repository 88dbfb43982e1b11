import net from "node:net";
import { matchesSelectorMap } from "./selectors.ts";
import { type KubeObject, resourceByKind, type Store, type StoreEvent } from "./store.ts";

/**
 * kube-proxy and the endpoints controller of the fake. Every Service TCP port gets a listener on
 * 127.0.0.1:<random>; each connection goes to a Ready pod chosen by the Service's selector as it
 * is at that moment (so a selector swap re-routes the next connection). The Endpoints object of
 * each selector Service is kept current from the same data.
 */

const PODS = resourceByKind("Pod");
const SERVICES = resourceByKind("Service");
const ENDPOINTS = resourceByKind("Endpoints");

export function podReady(p: KubeObject): boolean {
  return p.status?.phase === "Running" && !p.metadata.deletionTimestamp
    && (p.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True");
}

/** The pod port a Service port targets: a number, or a container port name looked up in the pod. */
export function resolveTargetPort(pod: KubeObject, svcPort: any): number | undefined {
  const t = svcPort.targetPort ?? svcPort.port;
  if (typeof t === "number") return t;
  if (/^\d+$/.test(String(t))) return Number(t);
  for (const c of pod.spec?.containers ?? []) {
    const cp = (c.ports ?? []).find((p: any) => p.name === t);
    if (cp) return cp.containerPort;
  }
  return undefined;
}

interface Listener {
  server: net.Server;
  port: number;
  sockets: Set<net.Socket>;
}

export class ServiceProxy {
  /** `${ns}/${svc}` → service port number → listener */
  private listeners = new Map<string, Map<number, Listener>>();
  private rr = 0;
  /** Connections the proxy carried, per service (`ns/name`): tests can assert on routing. */
  readonly connections = new Map<string, number>();

  constructor(private store: Store) {
    store.subscribe((ev) => this.onEvent(ev));
  }

  address(ns: string, svc: string, port: string | number): string {
    const ports = this.listeners.get(`${ns}/${svc}`);
    const spec = this.store.get(SERVICES, ns, svc);
    if (!ports || !spec) throw new Error(`fake-kube: no service ${ns}/${svc}`);
    const sp = (spec.spec.ports ?? []).find((p: any) => p.name === port || p.port === Number(port));
    const l = sp && ports.get(sp.port);
    if (!l) throw new Error(`fake-kube: service ${ns}/${svc} has no TCP port ${port}`);
    return `127.0.0.1:${l.port}`;
  }

  private onEvent(ev: StoreEvent): void | Promise<void> {
    if (ev.rt === SERVICES) {
      const ns = ev.object.metadata.namespace!;
      this.syncEndpoints(ns, ev.type === "DELETED" ? undefined : ev.object, ev.object.metadata.name);
      return this.syncListeners(ev.type === "DELETED" ? undefined : ev.object, ev.object);
    }
    if (ev.rt === PODS) {
      const ns = ev.object.metadata.namespace!;
      for (const svc of this.store.list(SERVICES, ns)) {
        const labels = [ev.object.metadata.labels, ev.prev?.metadata.labels];
        if (labels.some((l) => matchesSelectorMap(svc.spec?.selector, l))) this.syncEndpoints(ns, svc, svc.metadata.name);
      }
    }
  }

  private syncEndpoints(ns: string, svc: KubeObject | undefined, name: string): void {
    const existing = this.store.get(ENDPOINTS, ns, name);
    if (!svc || !svc.spec?.selector || Object.keys(svc.spec.selector).length === 0) {
      // Endpoints of selector-less Services belong to whoever wrote them.
      if (!svc && existing) this.store.remove(ENDPOINTS, ns, name);
      return;
    }
    const pods = this.store.list(PODS, ns).filter((p) => p.status?.podIP && matchesSelectorMap(svc.spec.selector, p.metadata.labels) && !p.metadata.deletionTimestamp);
    const groups = new Map<string, { addresses: any[]; notReadyAddresses: any[]; ports: any[] }>();
    for (const pod of pods) {
      const ports = (svc.spec.ports ?? []).map((sp: any) => ({ ...(sp.name ? { name: sp.name } : {}), port: resolveTargetPort(pod, sp), protocol: sp.protocol ?? "TCP" }))
        .filter((p: any) => p.port !== undefined);
      const key = JSON.stringify(ports);
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { addresses: [], notReadyAddresses: [], ports }));
      const addr = { ip: pod.status.podIP, nodeName: pod.spec.nodeName, targetRef: { kind: "Pod", namespace: ns, name: pod.metadata.name, uid: pod.metadata.uid } };
      (podReady(pod) ? g.addresses : g.notReadyAddresses).push(addr);
    }
    const subsets = [...groups.values()].map((g) => ({
      ...(g.addresses.length ? { addresses: g.addresses } : {}),
      ...(g.notReadyAddresses.length ? { notReadyAddresses: g.notReadyAddresses } : {}),
      ports: g.ports,
    }));
    const labels = { ...svc.metadata.labels, "endpoints.kubernetes.io/managed-by": "endpoint-controller" };
    if (!existing) {
      this.store.create(ENDPOINTS, { apiVersion: "v1", kind: "Endpoints", metadata: { name, namespace: ns, labels }, ...(subsets.length ? { subsets } : {}) });
      return;
    }
    const next: KubeObject = { ...existing, metadata: { ...existing.metadata, labels } };
    if (subsets.length) next.subsets = subsets;
    else delete next.subsets;
    this.store.update(ENDPOINTS, next);
  }

  private async syncListeners(svc: KubeObject | undefined, last: KubeObject): Promise<void> {
    const key = `${last.metadata.namespace}/${last.metadata.name}`;
    const current = this.listeners.get(key) ?? new Map<number, Listener>();
    this.listeners.set(key, current);
    const wanted = new Set<number>(
      svc && svc.spec?.type !== "ExternalName"
        ? (svc.spec?.ports ?? []).filter((p: any) => (p.protocol ?? "TCP") === "TCP").map((p: any) => p.port as number)
        : [],
    );
    for (const [port, l] of current) {
      if (wanted.has(port)) continue;
      current.delete(port);
      this.close(l);
    }
    for (const port of wanted) {
      if (current.has(port)) continue;
      const l = this.listen(last.metadata.namespace!, last.metadata.name, port);
      current.set(port, l);
      await new Promise<void>((resolve) => l.server.listen(0, "127.0.0.1", () => {
        l.port = (l.server.address() as net.AddressInfo).port;
        resolve();
      }));
    }
    if (!svc) this.listeners.delete(key);
  }

  private listen(ns: string, name: string, svcPort: number): Listener {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((client) => {
      sockets.add(client);
      client.on("close", () => sockets.delete(client));
      client.on("error", () => {});
      const svc = this.store.get(SERVICES, ns, name);
      const sp = svc?.spec?.ports?.find((p: any) => p.port === svcPort);
      const ready = svc?.spec?.selector ? this.store.list(PODS, ns).filter((p) => matchesSelectorMap(svc.spec.selector, p.metadata.labels) && podReady(p)) : [];
      const pod = ready[this.rr++ % Math.max(ready.length, 1)];
      const target = pod && sp ? resolveTargetPort(pod, sp) : undefined;
      if (!pod || target === undefined) {
        client.resetAndDestroy();
        return;
      }
      this.connections.set(`${ns}/${name}`, (this.connections.get(`${ns}/${name}`) ?? 0) + 1);
      // No Nagle on either leg: a proxy must not add delay to small writes.
      client.setNoDelay(true);
      const upstream = net.connect({ host: pod.status.podIP, port: target, noDelay: true });
      sockets.add(upstream);
      upstream.on("close", () => sockets.delete(upstream));
      upstream.on("error", () => client.resetAndDestroy());
      client.on("error", () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    return { server, port: 0, sockets };
  }

  private close(l: Listener): void {
    l.server.close();
    for (const s of l.sockets) s.destroy();
  }

  stopAll(): void {
    for (const ports of this.listeners.values()) for (const l of ports.values()) this.close(l);
    this.listeners.clear();
  }
}
