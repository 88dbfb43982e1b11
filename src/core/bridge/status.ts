import { listClusterOrNamespace, loadKubeBridge, type KubeBridge } from "../../../providers/kube/bridge.ts";
import { listSessions, removeSession, type SessionRecord } from "../../platform/sessions.ts";
import { pidAlive } from "../../platform/atomic.ts";
import type { BridgeDeps, KubeSelection } from "./settings.ts";
import type { ForwardState } from "./connect.ts";
import type { InterceptRecord } from "./intercept.ts";
import { deleteAgentObjects } from "./agent-pod.ts";
import { restoreSelector, readAnnotation, INTERCEPT_ANNOTATION } from "../../../providers/kube/intercept-selector.ts";
import { updateBridgeEnv } from "./env.ts";
import type { TunnelStats } from "./tunnel.ts";

/**
 * Live state of this machine's bridge sessions (from their PID-stamped records), the agent pods
 * behind them, and orphans found in the cluster by label. Used by `devx bridge status`,
 * `disconnect`, `cleanup` and the dashboard's Bridge pane.
 */
interface ConnectRecord {
  mode: "connect";
  session: string;
  context: string;
  namespace: string;
  kube: KubeSelection;
  forwards: ForwardState[];
  env: Record<string, string>;
}
type AnyRecord = ConnectRecord | InterceptRecord;

export interface ForwardStatus extends ForwardState {
  session: string;
  pid: number;
  alive: boolean;
}
export interface InterceptStatus {
  session: string;
  pid: number;
  alive: boolean;
  namespace: string;
  service: string;
  mirror: boolean;
  ports: InterceptRecord["ports"];
  agentPod?: string;
  agentPhase?: string;
  tunnel: "up" | "down";
  stats?: TunnelStats;
}
export interface Orphan {
  session: string;
  namespace: string;
  objects: string[];
  /** a Service still pointing at a dead agent */
  service?: string;
}
export interface BridgeStatus {
  forwards: ForwardStatus[];
  intercepts: InterceptStatus[];
  orphans: Orphan[];
  /** why orphans could not be listed (no cluster, no permission) */
  orphanError?: string;
}

async function records(state: string): Promise<Array<SessionRecord<AnyRecord> & { stale: boolean }>> {
  return (await listSessions<AnyRecord>(state, "bridge")).filter((r) => r.data?.mode);
}

const kubeFor = (deps: BridgeDeps, sel: KubeSelection) => loadKubeBridge({ ...sel, env: deps.env });

export async function bridgeStatus(deps: BridgeDeps, o: { orphans?: boolean; kube?: KubeBridge } = {}): Promise<BridgeStatus> {
  const recs = await records(deps.paths.state);
  const forwards: ForwardStatus[] = [];
  const intercepts: InterceptStatus[] = [];
  for (const r of recs) {
    if (r.data.mode === "connect") {
      for (const f of r.data.forwards) forwards.push({ ...f, session: r.id, pid: r.pid, alive: !r.stale });
      continue;
    }
    const d = r.data;
    let agentPhase: string | undefined;
    if (d.agentPod) {
      try {
        const kube = o.kube ?? kubeFor(deps, d.kube);
        const pod = await kube.readPod(d.namespace, d.agentPod);
        agentPhase = pod ? pod.status?.phase : "Gone";
      } catch {
        agentPhase = "Unknown";
      }
    }
    intercepts.push({ session: r.id, pid: r.pid, alive: !r.stale, namespace: d.namespace, service: d.service, mirror: d.mirror, ports: d.ports, agentPod: d.agentPod, agentPhase, tunnel: !r.stale && d.stats?.up ? "up" : "down", stats: d.stats });
  }
  let orphans: Orphan[] = [];
  let orphanError: string | undefined;
  if (o.orphans) {
    try {
      const kube = o.kube ?? loadKubeBridge({ env: deps.env });
      const live = new Set(recs.filter((r) => !r.stale).map((r) => r.id));
      orphans = (await findOrphans(kube)).filter((x) => !live.has(x.session));
    } catch (e) {
      orphanError = (e as Error).message;
    }
  }
  return { forwards, intercepts, orphans, orphanError };
}

/** End this machine's sessions: signal live owners, and clean up after dead ones from their records. */
export async function disconnect(deps: BridgeDeps, filter: { session?: string; service?: string } = {}): Promise<string[]> {
  const done: string[] = [];
  for (const r of await records(deps.paths.state)) {
    if (filter.session && r.id !== filter.session) continue;
    if (filter.service && (r.data.mode === "intercept" ? r.data.service !== filter.service : !r.data.forwards.some((f) => f.service === filter.service))) continue;
    if (!r.stale && r.pid !== process.pid) {
      // the owner restores and deletes on SIGTERM; wait for it (bounded), then finish what it left
      try {
        process.kill(r.pid, "SIGTERM");
      } catch {
        /* already gone */
      }
      for (let i = 0; i < 150 && pidAlive(r.pid); i++) await Bun.sleep(100);
    }
    const left = (await listSessions<AnyRecord>(deps.paths.state, "bridge")).find((x) => x.id === r.id);
    if (left) {
      if (r.data.mode === "intercept") {
        const kube = kubeFor(deps, r.data.kube);
        await restoreSelector(kube, r.data.namespace, r.data.service, r.id);
        await deleteAgentObjects(kube, r.data.namespace, r.id);
      } else {
        await updateBridgeEnv(deps.paths.state, {}, Object.keys(r.data.env ?? {}));
      }
      await removeSession(deps.paths.state, "bridge", r.id);
    }
    done.push(r.data.mode === "intercept" ? `intercept ${r.data.namespace}/${r.data.service} (${r.id})` : `connect ${r.data.forwards.map((f) => f.service).join(", ")} (${r.id})`);
  }
  return done;
}

/**
 * devx agent objects anywhere in the cluster whose agent pod is not running, and Services whose
 * intercept annotation names such a session. Lists cluster-wide; falls back to the client's
 * namespace when that is forbidden.
 */
export async function findOrphans(kube: KubeBridge): Promise<Orphan[]> {
  const labelSelector = "devx.managed=true,devx.kind=agent";
  const [jobs, pods, sas, roles, rbs, svcs] = await Promise.all([
    listClusterOrNamespace(kube, "Job", labelSelector),
    listClusterOrNamespace(kube, "Pod", labelSelector),
    listClusterOrNamespace(kube, "ServiceAccount", labelSelector),
    listClusterOrNamespace(kube, "Role", labelSelector),
    listClusterOrNamespace(kube, "RoleBinding", labelSelector),
    listClusterOrNamespace(kube, "Service"),
  ]);
  const running = new Set(pods.filter((p) => !p.metadata?.deletionTimestamp && (p.status?.phase === "Running" || p.status?.phase === "Pending")).map((p) => `${p.metadata?.namespace}/${p.metadata?.labels?.["devx.session"]}`));
  const out = new Map<string, Orphan>();
  const add = (kind: string, o: { metadata?: { name?: string; namespace?: string; labels?: Record<string, string> } }) => {
    const session = o.metadata?.labels?.["devx.session"];
    const namespace = o.metadata?.namespace ?? "";
    if (!session || running.has(`${namespace}/${session}`)) return;
    const key = `${namespace}/${session}`;
    const entry = out.get(key) ?? out.set(key, { session, namespace, objects: [] }).get(key)!;
    entry.objects.push(`${kind}/${o.metadata!.name}`);
  };
  for (const j of jobs) add("Job", j);
  for (const p of pods) add("Pod", p);
  for (const s of sas) add("ServiceAccount", s);
  for (const r of roles) add("Role", r);
  for (const r of rbs) add("RoleBinding", r);
  for (const s of svcs) {
    const ann = readAnnotation(s);
    if (!ann) continue;
    const namespace = s.metadata?.namespace ?? "";
    if (running.has(`${namespace}/${ann.session}`)) continue;
    const key = `${namespace}/${ann.session}`;
    const entry = out.get(key) ?? out.set(key, { session: ann.session, namespace, objects: [] }).get(key)!;
    entry.service = s.metadata?.name;
    entry.objects.push(`Service/${s.metadata?.name} (selector → ${INTERCEPT_ANNOTATION})`);
  }
  return [...out.values()];
}

export async function removeOrphan(kube: KubeBridge, o: Orphan): Promise<void> {
  if (o.service) await restoreSelector(kube, o.namespace, o.service, o.session);
  await deleteAgentObjects(kube, o.namespace, o.session);
  // pods of a Job that is already gone are not deleted by the Job's propagation
  for (const obj of o.objects.filter((x) => x.startsWith("Pod/"))) {
    await kube.delete(o.namespace, "Pod", obj.slice(4));
  }
}
