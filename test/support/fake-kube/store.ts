import { randomUUID } from "node:crypto";

/** A stored API object; the fake keeps plain JSON exactly as the wire carries it. */
export type KubeObject = Record<string, any> & {
  metadata: Record<string, any> & { name: string; namespace?: string; resourceVersion?: string };
};

/** One served resource type (what discovery advertises and routing dispatches on). */
export interface ResourceType {
  group: string;
  version: string;
  resource: string;
  kind: string;
  namespaced: boolean;
  /** Has a /status subresource: the main endpoint ignores status, /status ignores the rest. */
  status: boolean;
  verbs: string[];
  shortNames?: string[];
}

const CRUD = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

export const RESOURCES: ResourceType[] = [
  { group: "", version: "v1", resource: "namespaces", kind: "Namespace", namespaced: false, status: true, verbs: CRUD.filter((v) => v !== "deletecollection"), shortNames: ["ns"] },
  { group: "", version: "v1", resource: "pods", kind: "Pod", namespaced: true, status: true, verbs: CRUD, shortNames: ["po"] },
  { group: "", version: "v1", resource: "services", kind: "Service", namespaced: true, status: true, verbs: CRUD, shortNames: ["svc"] },
  { group: "", version: "v1", resource: "endpoints", kind: "Endpoints", namespaced: true, status: false, verbs: CRUD, shortNames: ["ep"] },
  { group: "", version: "v1", resource: "serviceaccounts", kind: "ServiceAccount", namespaced: true, status: false, verbs: CRUD, shortNames: ["sa"] },
  { group: "", version: "v1", resource: "configmaps", kind: "ConfigMap", namespaced: true, status: false, verbs: CRUD, shortNames: ["cm"] },
  { group: "", version: "v1", resource: "secrets", kind: "Secret", namespaced: true, status: false, verbs: CRUD },
  { group: "batch", version: "v1", resource: "jobs", kind: "Job", namespaced: true, status: true, verbs: CRUD },
  { group: "rbac.authorization.k8s.io", version: "v1", resource: "roles", kind: "Role", namespaced: true, status: false, verbs: CRUD },
  { group: "rbac.authorization.k8s.io", version: "v1", resource: "rolebindings", kind: "RoleBinding", namespaced: true, status: false, verbs: CRUD },
  { group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterroles", kind: "ClusterRole", namespaced: false, status: false, verbs: CRUD },
  { group: "rbac.authorization.k8s.io", version: "v1", resource: "clusterrolebindings", kind: "ClusterRoleBinding", namespaced: false, status: false, verbs: CRUD },
  { group: "networking.k8s.io", version: "v1", resource: "networkpolicies", kind: "NetworkPolicy", namespaced: true, status: false, verbs: CRUD, shortNames: ["netpol"] },
  { group: "authorization.k8s.io", version: "v1", resource: "selfsubjectaccessreviews", kind: "SelfSubjectAccessReview", namespaced: false, status: false, verbs: ["create"] },
];

/** Structural equality of JSON values, ignoring key order (clients reorder keys on round trips). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((v, i) => jsonEqual(v, (b as unknown[])[i]));
  const ka = Object.keys(a).filter((k) => (a as any)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as any)[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => jsonEqual((a as any)[k], (b as any)[k]));
}

export function apiVersionOf(t: ResourceType): string {
  return t.group ? `${t.group}/${t.version}` : t.version;
}

export function findResource(group: string, version: string, resource: string): ResourceType | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.resource === resource);
}

export function resourceByKind(kind: string): ResourceType {
  const t = RESOURCES.find((r) => r.kind.toLowerCase() === kind.toLowerCase() || r.resource === kind.toLowerCase());
  if (!t) throw new Error(`fake-kube: unknown kind ${kind}`);
  return t;
}

export type EventType = "ADDED" | "MODIFIED" | "DELETED";

/** A change as the watch cache records it: the object after, the object before (for selector transitions). */
export interface StoreEvent {
  type: EventType;
  rt: ResourceType;
  object: KubeObject;
  prev?: KubeObject;
  rv: number;
}

type Listener = (ev: StoreEvent) => void | Promise<void>;

/** Events older than this many changes are compacted away: a watch from before them gets 410 Gone. */
const HISTORY = 50_000;

/**
 * The etcd of the fake: one global resourceVersion counter, objects per resource keyed by
 * namespace/name, and an event history watches replay from. Reads and writes copy, so callers can
 * never alias stored state.
 */
export class Store {
  rv = 1;
  private data = new Map<string, Map<string, KubeObject>>();
  readonly history: StoreEvent[] = [];
  private listeners = new Set<Listener>();
  private pending = new Set<Promise<void>>();

  private table(rt: ResourceType): Map<string, KubeObject> {
    const k = `${rt.group}/${rt.resource}`;
    let t = this.data.get(k);
    if (!t) this.data.set(k, (t = new Map()));
    return t;
  }

  private key(rt: ResourceType, ns: string | undefined, name: string): string {
    return rt.namespaced ? `${ns}/${name}` : name;
  }

  get(rt: ResourceType, ns: string | undefined, name: string): KubeObject | undefined {
    const o = this.table(rt).get(this.key(rt, ns, name));
    return o && structuredClone(o);
  }

  list(rt: ResourceType, ns?: string): KubeObject[] {
    const all = [...this.table(rt).values()];
    const items = rt.namespaced && ns ? all.filter((o) => o.metadata.namespace === ns) : all;
    return items
      .sort((a, b) => `${a.metadata.namespace ?? ""}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ""}/${b.metadata.name}`))
      .map((o) => structuredClone(o));
  }

  /** Stores a new object: uid, creationTimestamp, generation and resourceVersion are the server's. */
  create(rt: ResourceType, obj: KubeObject): KubeObject {
    const o = structuredClone(obj);
    o.apiVersion = apiVersionOf(rt);
    o.kind = rt.kind;
    o.metadata.uid = randomUUID();
    o.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    o.metadata.generation = 1;
    if (!rt.namespaced) delete o.metadata.namespace;
    delete o.metadata.deletionTimestamp;
    o.metadata.resourceVersion = String(++this.rv);
    this.table(rt).set(this.key(rt, o.metadata.namespace, o.metadata.name), o);
    this.emit({ type: "ADDED", rt, object: o, rv: this.rv });
    return structuredClone(o);
  }

  /** Replaces a stored object (caller did the precondition checks); bumps generation when spec changed. */
  update(rt: ResourceType, obj: KubeObject): KubeObject {
    const key = this.key(rt, obj.metadata.namespace, obj.metadata.name);
    const prev = this.table(rt).get(key);
    if (!prev) throw new Error(`fake-kube: update of missing ${rt.resource} ${key}`);
    const o = structuredClone(obj);
    o.apiVersion = apiVersionOf(rt);
    o.kind = rt.kind;
    for (const f of ["uid", "creationTimestamp", "generation"]) o.metadata[f] = prev.metadata[f];
    if (prev.metadata.deletionTimestamp) o.metadata.deletionTimestamp = prev.metadata.deletionTimestamp;
    if (!jsonEqual(prev.spec, o.spec)) o.metadata.generation = (prev.metadata.generation ?? 1) + 1;
    delete o.metadata.resourceVersion;
    const { resourceVersion: _, ...prevMeta } = prev.metadata;
    // A write that changes nothing keeps its resourceVersion and emits no event, as upstream.
    if (jsonEqual({ ...prev, metadata: prevMeta }, o)) return structuredClone(prev);
    o.metadata.resourceVersion = String(++this.rv);
    this.table(rt).set(key, o);
    this.emit({ type: "MODIFIED", rt, object: o, prev, rv: this.rv });
    return structuredClone(o);
  }

  /** Read-modify-write for controllers; no-op when the object is gone. */
  mutate(rt: ResourceType, ns: string | undefined, name: string, fn: (o: KubeObject) => void): KubeObject | undefined {
    const o = this.get(rt, ns, name);
    if (!o) return undefined;
    fn(o);
    return this.update(rt, o);
  }

  remove(rt: ResourceType, ns: string | undefined, name: string): KubeObject | undefined {
    const key = this.key(rt, ns, name);
    const prev = this.table(rt).get(key);
    if (!prev) return undefined;
    this.table(rt).delete(key);
    const o = structuredClone(prev);
    o.metadata.resourceVersion = String(++this.rv);
    this.emit({ type: "DELETED", rt, object: o, prev, rv: this.rv });
    return structuredClone(o);
  }

  /** Listeners run synchronously in commit order; a returned promise is awaited by `settled()`. */
  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Resolves when every asynchronous reaction to past writes (listeners, proxies) has finished. */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  oldestRv(): number {
    return this.history[0]?.rv ?? this.rv;
  }

  private queue: StoreEvent[] = [];
  private dispatching = false;

  /** Writes made by a listener are queued, so every listener sees events in resourceVersion order. */
  private emit(ev: StoreEvent): void {
    this.history.push(ev);
    if (this.history.length > HISTORY) this.history.splice(0, this.history.length - HISTORY);
    this.queue.push(ev);
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        for (const l of this.listeners) this.deliver(l, next);
      }
    } finally {
      this.dispatching = false;
    }
  }

  private deliver(l: Listener, ev: StoreEvent): void {
    try {
      const r = l(ev);
      if (r instanceof Promise) {
        const p: Promise<void> = r.catch((e) => console.error("fake-kube: controller error", e)).finally(() => this.pending.delete(p));
        this.pending.add(p);
      }
    } catch (e) {
      console.error("fake-kube: controller error", e);
    }
  }
}
