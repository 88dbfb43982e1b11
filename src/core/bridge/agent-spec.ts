import type { Job as V1Job, NetworkPolicy as V1NetworkPolicy, PolicyRule as V1PolicyRule, Role as V1Role, RoleBinding as V1RoleBinding, Secret as V1Secret, Service as V1Service, ServiceAccount as V1ServiceAccount } from "../../../providers/kube/bridge.ts";
import { LABEL, labelValue } from "../labels.ts";
import { agentName } from "../../protocol/bridge/names.ts";

/**
 * Pure builders for what an intercept creates in the cluster (agent ServiceAccount, Secret, Role,
 * RoleBinding, NetworkPolicy and Job). No I/O: tested as data.
 */
export const DEFAULT_AGENT_IMAGE = (version: string) => `localhost/devx-agent:${version}`;
/** The Job's argv[1]: `devx agent …` is kept for agents deployed by older CLIs (see commands/agent.ts). */
export const AGENT_COMMAND = "bridge-agent";
/** The key of the tunnel secret in the agent's Secret, and the variable the agent reads it from. */
export const SECRET_KEY = "token";
export const SECRET_ENV = "DEVX_AGENT_SECRET";

export interface AgentPort {
  /** the Service port's name, or its number as text when unnamed */
  name: string;
  servicePort: number;
  /** where the agent listens: the Service's targetPort (named targetPorts get a number here) */
  listenPort: number;
  /**
   * the name stream headers carry for this listen port: Service ports sharing a targetPort arrive on
   * one socket the agent cannot tell apart, so they share the first one's name (and host port)
   */
  stream: string;
  /** the container port name: the targetPort's name when named, so the Service resolves it */
  containerPortName?: string;
  targetPort: number | string;
}

/** The two ports the agent uses for itself (neither is ever a Service's listen port). */
export interface InternalPorts {
  /** the tunnel, on 127.0.0.1 only: reached through a port-forward, never from the pod network */
  control: number;
  /** readiness only (accepts and closes), on the pod IP where the kubelet probes */
  health: number;
}

export interface AgentSpecInput {
  session: string;
  namespace: string;
  service: string;
  project: string;
  image: string;
  ports: AgentPort[];
  internal: InternalPorts;
  graceMs: number;
  mirror: boolean;
  /** the agent's lifetime cap (the Job's activeDeadlineSeconds) */
  maxLifetimeSeconds?: number;
}

export interface AgentObjects {
  serviceAccount: V1ServiceAccount;
  /** holds the tunnel secret; its data is filled by withSecret() */
  secret: V1Secret;
  role: V1Role;
  roleBinding: V1RoleBinding;
  networkPolicy: V1NetworkPolicy;
  job: V1Job;
}

export { agentName };

export function agentLabels(session: string, project: string, service: string): Record<string, string> {
  return { [LABEL.managed]: "true", [LABEL.kind]: "agent", [LABEL.session]: session, [LABEL.project]: labelValue(project), [LABEL.service]: labelValue(service) };
}

/** The selector the Service gets during an intercept: the agent pod of this session only. */
export const agentSelector = (session: string) => ({ [LABEL.kind]: "agent", [LABEL.session]: session });

const numericPort = (tp: number | string) => (typeof tp === "number" ? tp : /^\d+$/.test(tp) ? Number(tp) : undefined);

/**
 * The Service's ports as the agent must serve them. A numeric targetPort is where traffic will arrive
 * on the agent pod, so the agent listens there. A named targetPort is resolved by name on the agent
 * pod, so the agent declares a container port of that name, numbered like the original pod's port
 * (from `namedPorts`) or else like the Service port, moved up past any port already taken. Service
 * ports with the same targetPort share one listener.
 */
export function agentPorts(svc: V1Service, namedPorts: Record<string, number> = {}): AgentPort[] {
  const ports = svc.spec?.ports ?? [];
  const used = new Set<number>(ports.map((p) => numericPort(p.targetPort ?? p.port)).filter((n): n is number => n !== undefined));
  const byTarget = new Map<string, { listenPort: number; stream: string }>();
  return ports.map((p) => {
    const name = p.name || String(p.port);
    const tp = p.targetPort ?? p.port;
    const numeric = numericPort(tp);
    const key = numeric === undefined ? `name:${tp}` : `port:${numeric}`;
    let target = byTarget.get(key);
    if (!target) {
      let listenPort = numeric ?? namedPorts[String(tp)] ?? p.port;
      if (numeric === undefined) {
        while (used.has(listenPort)) listenPort++;
        used.add(listenPort);
      }
      target = { listenPort, stream: name };
      byTarget.set(key, target);
    }
    return { name, servicePort: p.port, listenPort: target.listenPort, stream: target.stream, targetPort: numeric ?? String(tp), containerPortName: numeric === undefined ? String(tp) : undefined };
  });
}

/** One entry per listen port (the first Service port that targets it). */
export function agentListeners(ports: AgentPort[]): AgentPort[] {
  const seen = new Set<number>();
  return ports.filter((p) => !seen.has(p.listenPort) && (seen.add(p.listenPort), true));
}

/**
 * The agent's own ports, drawn at random from 10000–32767 (below Linux's ephemeral range, so never an
 * outgoing connection's source port) and never one of the Service's listen ports. Random rather than
 * fixed: nothing depends on the number (the CLI port-forwards to whatever the Job says), and no
 * Service can be shaped to collide with it.
 */
export function internalPorts(ports: AgentPort[], random: () => number = Math.random): InternalPorts {
  const taken = new Set(ports.map((p) => p.listenPort));
  const pick = () => {
    for (;;) {
      const port = 10000 + Math.floor(random() * 22768);
      if (!taken.has(port)) return taken.add(port), port;
    }
  };
  return { control: pick(), health: pick() };
}

export function agentRules(service: string, mirror: boolean, name: string): V1PolicyRule[] {
  const rules: V1PolicyRule[] = [
    { apiGroups: [""], resources: ["services"], resourceNames: [service], verbs: ["get", "patch"] },
    // after healing, its last call: its own ServiceAccount (the Secret goes with it; the rest is owned by its Job, see ownedBy)
    { apiGroups: [""], resources: ["serviceaccounts"], resourceNames: [name], verbs: ["delete"] },
  ];
  // mirror mode forwards to the original pods, so it must find them
  if (mirror) rules.push({ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] });
  return rules;
}

export function agentObjects(i: AgentSpecInput): AgentObjects {
  const name = agentName(i.session);
  const labels = agentLabels(i.session, i.project, i.service);
  const meta = { name, namespace: i.namespace, labels };
  const listeners = agentListeners(i.ports);
  const args = [
    AGENT_COMMAND,
    "--namespace", i.namespace,
    "--service", i.service,
    "--session", i.session,
    "--control-port", String(i.internal.control),
    "--health-port", String(i.internal.health),
    "--grace", `${i.graceMs}ms`,
    "--ports", listeners.map((p) => `${p.stream}:${p.listenPort}`).join(","),
    ...(i.mirror ? ["--mirror"] : []),
  ];
  const lowPorts = listeners.some((p) => p.listenPort < 1024);
  const job: V1Job = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: meta,
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: i.maxLifetimeSeconds ?? 12 * 3600,
      ttlSecondsAfterFinished: 300,
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: name,
          // the agent heals the Service with this token: a namespace that turns automounting off must not leave it without one
          automountServiceAccountToken: true,
          restartPolicy: "Never",
          terminationGracePeriodSeconds: 10,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 65532,
            runAsGroup: 65532,
            seccompProfile: { type: "RuntimeDefault" },
            // a Service targetPort below 1024 must be bindable without NET_BIND_SERVICE (a "safe" sysctl)
            ...(lowPorts ? { sysctls: [{ name: "net.ipv4.ip_unprivileged_port_start", value: "0" }] } : {}),
          },
          containers: [
            {
              name: "agent",
              image: i.image,
              imagePullPolicy: "IfNotPresent",
              command: ["/usr/local/bin/devx"],
              args,
              ports: [
                ...listeners.map((p) => ({ ...(p.containerPortName ? { name: p.containerPortName } : {}), containerPort: p.listenPort, protocol: "TCP" })),
                { name: "devx-health", containerPort: i.internal.health, protocol: "TCP" },
              ],
              env: [
                { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
                { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                { name: SECRET_ENV, valueFrom: { secretKeyRef: { name, key: SECRET_KEY } } },
              ],
              readinessProbe: { tcpSocket: { port: i.internal.health }, periodSeconds: 1, initialDelaySeconds: 0 },
              resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "256Mi" } },
              securityContext: {
                allowPrivilegeEscalation: false,
                privileged: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ["ALL"] },
              },
            },
          ],
        },
      },
    },
  };
  // Ingress to the agent pod: the Service's ports (its clients may be anywhere) and the probe port;
  // nothing else. The control port listens on 127.0.0.1 and is not reachable from the network at
  // all; this denies the rest where the cluster's network plugin enforces NetworkPolicy.
  const networkPolicy: V1NetworkPolicy = {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: meta,
    spec: {
      podSelector: { matchLabels: agentSelector(i.session) },
      policyTypes: ["Ingress"],
      ingress: [{ ports: [...listeners.map((p) => ({ protocol: "TCP", port: p.listenPort })), { protocol: "TCP", port: i.internal.health }] }],
    },
  };
  return {
    serviceAccount: { apiVersion: "v1", kind: "ServiceAccount", metadata: meta },
    secret: { apiVersion: "v1", kind: "Secret", metadata: meta, type: "Opaque", immutable: true, data: {} },
    role: { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: meta, rules: agentRules(i.service, i.mirror, name) },
    roleBinding: {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: meta,
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name, namespace: i.namespace }],
    },
    networkPolicy,
    job,
  };
}

/** The Secret with the tunnel secret in it (kept out of agentObjects so a plan can be printed). */
export function withSecret(secret: V1Secret, token: string): V1Secret {
  return { ...secret, data: { [SECRET_KEY]: Buffer.from(token).toString("base64") } };
}

/**
 * Ownership for the garbage collector. The Role, RoleBinding and NetworkPolicy belong to the agent's
 * Job: after a self-heal the agent deletes its ServiceAccount and exits, and the finished Job's
 * ttlSecondsAfterFinished takes the pod and them. The Secret belongs to the ServiceAccount (both
 * exist before the Job, which needs them to start its pod), so it goes when the agent deletes that.
 */
export function ownedBy<T extends { metadata?: { ownerReferences?: unknown[] } }>(obj: T, owner: { apiVersion?: string; kind?: string; metadata?: { name?: string; uid?: string } }): T {
  const ref = { apiVersion: owner.apiVersion!, kind: owner.kind!, name: owner.metadata!.name!, uid: owner.metadata!.uid!, blockOwnerDeletion: false };
  return { ...obj, metadata: { ...obj.metadata, ownerReferences: [ref] } };
}
