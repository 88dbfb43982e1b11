import type { Scheduler } from "./scheduler.ts";
import { type KubeObject, RESOURCES, resourceByKind, type ResourceType, type Store } from "./store.ts";

/**
 * Deletion as the API server and garbage collector do it: pods terminate gracefully, namespaces
 * empty themselves first, and owners take their dependents with them according to
 * propagationPolicy (Background, Foreground, Orphan — batch/v1 Jobs default to Orphan through the
 * API, as upstream kept for compatibility).
 */

export type Propagation = "Background" | "Foreground" | "Orphan";

export interface DeleteOptions {
  propagationPolicy?: Propagation;
  gracePeriodSeconds?: number;
}

const PODS = resourceByKind("Pod");
const NAMESPACES = resourceByKind("Namespace");
const stamp = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

export class Deleter {
  constructor(private store: Store, private scheduler: Scheduler) {}

  private dependents(ns: string | undefined, uid: string): [ResourceType, KubeObject][] {
    const out: [ResourceType, KubeObject][] = [];
    for (const rt of RESOURCES) {
      if (!rt.namespaced || !ns) continue;
      for (const o of this.store.list(rt, ns)) {
        if ((o.metadata.ownerReferences ?? []).some((r: any) => r.uid === uid)) out.push([rt, o]);
      }
    }
    return out;
  }

  /** Returns the object as it is after the delete call (still present with deletionTimestamp, or gone). */
  delete(rt: ResourceType, ns: string | undefined, name: string, opts: DeleteOptions = {}): KubeObject | undefined {
    const obj = this.store.get(rt, ns, name);
    if (!obj) return undefined;
    if (rt === NAMESPACES) return this.deleteNamespace(name);
    const policy = opts.propagationPolicy ?? (rt.kind === "Job" ? "Orphan" : "Background");
    const uid = obj.metadata.uid as string;
    if (policy === "Orphan") {
      for (const [drt, d] of this.dependents(ns, uid)) {
        this.store.mutate(drt, ns, d.metadata.name, (o) => {
          o.metadata.ownerReferences = (o.metadata.ownerReferences ?? []).filter((r: any) => r.uid !== uid);
          if (o.metadata.ownerReferences.length === 0) delete o.metadata.ownerReferences;
        });
      }
    }
    if (policy === "Foreground") {
      const deps = this.dependents(ns, uid);
      if (deps.length > 0) {
        const marked = this.store.mutate(rt, ns, name, (o) => {
          o.metadata.deletionTimestamp = stamp();
          o.metadata.finalizers = [...(o.metadata.finalizers ?? []), "foregroundDeletion"];
        });
        // The owner goes once its last dependent is gone.
        const off = this.store.subscribe((ev) => {
          if (ev.type !== "DELETED" || this.dependents(ns, uid).length > 0) return;
          off();
          this.store.remove(rt, ns, name);
        });
        for (const [drt, d] of deps) this.delete(drt, ns, d.metadata.name, { propagationPolicy: "Foreground" });
        return marked;
      }
    }
    const result = rt === PODS ? this.scheduler.terminate(ns!, name, opts.gracePeriodSeconds) : this.store.remove(rt, ns, name);
    if (policy === "Background") {
      for (const [drt, d] of this.dependents(ns, uid)) this.delete(drt, ns, d.metadata.name, { propagationPolicy: "Background" });
    }
    return result;
  }

  private deleteNamespace(name: string): KubeObject | undefined {
    const marked = this.store.mutate(NAMESPACES, undefined, name, (o) => {
      o.metadata.deletionTimestamp ??= stamp();
      o.status = { phase: "Terminating" };
    });
    const remaining = () => RESOURCES.filter((r) => r.namespaced).reduce((n, r) => n + this.store.list(r, name).length, 0);
    const finish = () => {
      if (remaining() > 0) return false;
      this.store.remove(NAMESPACES, undefined, name);
      return true;
    };
    for (const rt of RESOURCES.filter((r) => r.namespaced)) {
      for (const o of this.store.list(rt, name)) this.delete(rt, name, o.metadata.name, { propagationPolicy: "Background" });
    }
    if (!finish()) {
      const off = this.store.subscribe((ev) => {
        if (ev.type === "DELETED" && ev.object.metadata.namespace === name && finish()) off();
      });
    }
    return marked;
  }
}
