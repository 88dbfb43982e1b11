import type { Duplex } from "node:stream";
import {
  PatchStrategy,
  setHeaderOptions,
  type V1Job,
  type V1NetworkPolicy,
  type V1Pod,
  type V1Role,
  type V1RoleBinding,
  type V1Secret,
  type V1Service,
  type V1ServiceAccount,
} from "@kubernetes/client-node";
import { PermissionError } from "../../src/errors.ts";
import { inClusterKube, kcall, loadKube, statusOf, type KubeClient, type KubeOptions } from "./client.ts";
import { openPortForward } from "./port-forward.ts";
import { watchList, type WatchEvent } from "./watch.ts";

/**
 * What the bridge (and the in-cluster agent) may do with a cluster, as one capability interface:
 * read and patch a Service, create and delete the agent's objects, list and watch pods, ask what
 * the user may do, port-forward. The SDK stays behind it; every error comes out typed (a
 * PermissionError for 403, a ConflictError for 409, NotFoundError for 404…).
 */
export type Service = V1Service;
export type Pod = V1Pod;
export type Job = V1Job;
export type ServiceAccount = V1ServiceAccount;
export type Secret = V1Secret;
export type Role = V1Role;
export type RoleBinding = V1RoleBinding;
export type NetworkPolicy = V1NetworkPolicy;
export type { WatchEvent } from "./watch.ts";
export type { V1ServicePort as ServicePort, V1PolicyRule as PolicyRule } from "@kubernetes/client-node";

/** The kinds an intercept creates (and cleanup lists and deletes). */
export type AgentObject = ServiceAccount | Secret | Job | Role | RoleBinding | NetworkPolicy;
export type AgentKind = "ServiceAccount" | "Secret" | "Job" | "Role" | "RoleBinding" | "NetworkPolicy";
export type ListableKind = "Job" | "Pod" | "ServiceAccount" | "Role" | "RoleBinding" | "Service";
/** What a listing gives back: every kind's metadata; a pod's phase (other kinds' status has no phase). */
export type Listed = { metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; deletionTimestamp?: Date }; status?: object & { phase?: string } };

export interface AccessCheck {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  name?: string;
}

export interface KubeBridge {
  /** the namespace from --namespace, bridge.namespace, the context, or "default" */
  readonly namespace: string;
  readonly context: string;
  readonly server: string;
  /** the kubeconfig user's name (recorded in the intercept annotation) */
  readonly user?: string;
  readService(namespace: string, name: string): Promise<Service>;
  /** A JSON merge patch (RFC 7386). */
  patchService(namespace: string, name: string, patch: object): Promise<Service>;
  /** The pod, or undefined when there is none by that name. */
  readPod(namespace: string, name: string): Promise<Pod | undefined>;
  listPods(namespace: string, labelSelector: string): Promise<Pod[]>;
  /** Pod events of a label selector, re-listing after every break, until the signal aborts. */
  watchPods(namespace: string, labelSelector: string, onEvent: (e: WatchEvent<Pod>) => void, signal: AbortSignal, hooks?: { onSync?(): void; onListed?(): void; onError?(e: unknown): void }): Promise<void>;
  /** Objects of a kind, in one namespace or (undefined) every namespace; a 403 comes out as PermissionError. */
  list(kind: ListableKind, namespace: string | undefined, labelSelector?: string): Promise<Listed[]>;
  /** Creates an agent object; returns it as stored (with its uid). */
  create<T extends AgentObject>(namespace: string, kind: AgentKind, obj: T): Promise<T>;
  /** Deletes an object by name (a Job with its pods); what is already gone is fine. */
  delete(namespace: string, kind: AgentKind | "Pod", name: string): Promise<void>;
  /** SelfSubjectAccessReview for each check: may the current user do it? */
  canI(namespace: string, checks: AccessCheck[]): Promise<boolean[]>;
  /** One TCP connection to a pod's port through the API server. */
  portForward(namespace: string, pod: string, port: number): Promise<Duplex>;
}

const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

export function kubeBridge(kube: KubeClient): KubeBridge {
  const ignore404 = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (e) {
      if (statusOf(e) !== 404) await kcall(what, () => Promise.reject(e));
    }
  };
  const { core, batch, rbac, networking } = kube;
  return {
    namespace: kube.namespace,
    context: kube.context,
    server: kube.server,
    user: kube.kc.getCurrentUser()?.name,
    readService: (namespace, name) => kcall(`read Service ${namespace}/${name}`, () => core.readNamespacedService({ name, namespace }), kube.server),
    patchService: (namespace, name, body) => kcall(`patch Service ${namespace}/${name}`, () => core.patchNamespacedService({ name, namespace, body }, mergePatch)),
    readPod: async (namespace, name) => {
      try {
        return await core.readNamespacedPod({ name, namespace });
      } catch (e) {
        if (statusOf(e) === 404) return undefined;
        return kcall(`read pod ${namespace}/${name}`, () => Promise.reject(e));
      }
    },
    listPods: async (namespace, labelSelector) => (await kcall("list pods", () => core.listNamespacedPod({ namespace, labelSelector }))).items,
    watchPods: (namespace, labelSelector, onEvent, signal, hooks) => watchList<Pod>(kube, `/api/v1/namespaces/${namespace}/pods`, { labelSelector }, onEvent, signal, hooks),
    async list(kind, namespace, labelSelector) {
      const q = { labelSelector };
      const calls: Record<ListableKind, [() => Promise<{ items: Listed[] }>, (ns: string) => Promise<{ items: Listed[] }>]> = {
        Job: [() => batch.listJobForAllNamespaces(q), (ns) => batch.listNamespacedJob({ namespace: ns, ...q })],
        Pod: [() => core.listPodForAllNamespaces(q), (ns) => core.listNamespacedPod({ namespace: ns, ...q })],
        ServiceAccount: [() => core.listServiceAccountForAllNamespaces(q), (ns) => core.listNamespacedServiceAccount({ namespace: ns, ...q })],
        Role: [() => rbac.listRoleForAllNamespaces(q), (ns) => rbac.listNamespacedRole({ namespace: ns, ...q })],
        RoleBinding: [() => rbac.listRoleBindingForAllNamespaces(q), (ns) => rbac.listNamespacedRoleBinding({ namespace: ns, ...q })],
        Service: [() => core.listServiceForAllNamespaces(q), (ns) => core.listNamespacedService({ namespace: ns, ...q })],
      };
      const [all, inNs] = calls[kind];
      return (await kcall(`list ${kind}s`, () => (namespace === undefined ? all() : inNs(namespace)))).items;
    },
    async create(namespace, kind, obj) {
      const body = obj as never;
      const calls: Record<AgentKind, () => Promise<unknown>> = {
        ServiceAccount: () => core.createNamespacedServiceAccount({ namespace, body }),
        Secret: () => core.createNamespacedSecret({ namespace, body }),
        Job: () => batch.createNamespacedJob({ namespace, body }),
        Role: () => rbac.createNamespacedRole({ namespace, body }),
        RoleBinding: () => rbac.createNamespacedRoleBinding({ namespace, body }),
        NetworkPolicy: () => networking.createNamespacedNetworkPolicy({ namespace, body }),
      };
      return (await kcall(`create ${kind}`, calls[kind])) as typeof obj;
    },
    async delete(namespace, kind, name) {
      const calls: Record<AgentKind | "Pod", () => Promise<unknown>> = {
        Job: () => batch.deleteNamespacedJob({ name, namespace, propagationPolicy: "Background" }),
        NetworkPolicy: () => networking.deleteNamespacedNetworkPolicy({ name, namespace }),
        RoleBinding: () => rbac.deleteNamespacedRoleBinding({ name, namespace }),
        Role: () => rbac.deleteNamespacedRole({ name, namespace }),
        Secret: () => core.deleteNamespacedSecret({ name, namespace }),
        ServiceAccount: () => core.deleteNamespacedServiceAccount({ name, namespace }),
        Pod: () => core.deleteNamespacedPod({ name, namespace }),
      };
      await ignore404(`delete ${kind} ${name}`, calls[kind]);
    },
    async canI(namespace, checks) {
      const answers = await Promise.all(
        checks.map((c) =>
          kcall("SelfSubjectAccessReview", () =>
            kube.authz.createSelfSubjectAccessReview({
              body: { apiVersion: "authorization.k8s.io/v1", kind: "SelfSubjectAccessReview", spec: { resourceAttributes: { namespace, verb: c.verb, group: c.group, resource: c.resource, subresource: c.subresource, name: c.name } } },
            }),
          ),
        ),
      );
      return answers.map((a) => !!a?.status?.allowed);
    },
    portForward: (namespace, pod, port) => openPortForward(kube, namespace, pod, port),
  };
}

/** The user's cluster, from the kubeconfig (see loadKube). */
export const loadKubeBridge = (opts: KubeOptions = {}): KubeBridge => kubeBridge(loadKube(opts));

/** The agent's own view of the cluster: its ServiceAccount token. */
export const inClusterKubeBridge = (env?: Record<string, string | undefined>): KubeBridge => kubeBridge(inClusterKube(env));

/** A list that may be refused cluster-wide falls back to one namespace. */
export async function listClusterOrNamespace(kube: KubeBridge, kind: ListableKind, labelSelector?: string): Promise<Listed[]> {
  try {
    return await kube.list(kind, undefined, labelSelector);
  } catch (e) {
    if (!(e instanceof PermissionError)) throw e;
    return kube.list(kind, kube.namespace, labelSelector);
  }
}
