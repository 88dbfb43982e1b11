import type { V1Job, V1Role, V1RoleBinding, V1ServiceAccount, V1Service, V1PolicyRule } from "@kubernetes/client-node";
import { LABEL } from "../labels.ts";

/**
 * Pure builders for what an intercept creates in the cluster (agent ServiceAccount, Role,
 * RoleBinding and Job) and for the RBAC the user needs. No I/O: tested as data.
 */
export const CONTROL_PORT = 4000;
export const DEFAULT_AGENT_IMAGE = (version: string) => `localhost/devx-agent:${version}`;

export interface AgentPort {
  /** the Service port's name, or its number as text when unnamed (what stream headers carry) */
  name: string;
  servicePort: number;
  /** where the agent listens: the Service's targetPort (named targetPorts get a number here) */
  listenPort: number;
  /** the container port name: the targetPort's name when named (so the Service resolves it), else the Service port's name */
  containerPortName?: string;
  targetPort: number | string;
}

export interface AgentSpecInput {
  session: string;
  namespace: string;
  service: string;
  project: string;
  image: string;
  ports: AgentPort[];
  graceMs: number;
  mirror: boolean;
  /** the agent's lifetime cap (the Job's activeDeadlineSeconds) */
  maxLifetimeSeconds?: number;
}

export const agentName = (session: string) => `devx-agent-${session}`;

export function agentLabels(session: string, project: string, service: string): Record<string, string> {
  return { [LABEL.managed]: "true", [LABEL.kind]: "agent", [LABEL.session]: session, [LABEL.project]: project, [LABEL.service]: service };
}

/** The selector the Service gets during an intercept: the agent pod of this session only. */
export const agentSelector = (session: string) => ({ [LABEL.kind]: "agent", [LABEL.session]: session });

/**
 * The Service's ports as the agent must serve them. A numeric targetPort is where traffic will arrive
 * on the agent pod, so the agent listens there. A named targetPort is resolved by name on the agent
 * pod, so the agent declares a container port of that name, numbered like the original pod's port
 * (from `namedPorts`) or else like the Service port.
 */
export function agentPorts(svc: V1Service, namedPorts: Record<string, number> = {}): AgentPort[] {
  const used = new Set<number>([CONTROL_PORT]);
  return (svc.spec?.ports ?? []).map((p) => {
    const name = p.name || String(p.port);
    const tp = p.targetPort ?? p.port;
    const numeric = typeof tp === "number" ? tp : /^\d+$/.test(String(tp)) ? Number(tp) : undefined;
    let listenPort = numeric ?? namedPorts[String(tp)] ?? p.port;
    while (numeric === undefined && used.has(listenPort)) listenPort++;
    used.add(listenPort);
    return { name, servicePort: p.port, listenPort, targetPort: numeric ?? String(tp), containerPortName: numeric === undefined ? String(tp) : validPortName(p.name) };
  });
}

const validPortName = (n?: string) => (n && /^[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/.test(n) && /[a-z]/.test(n) ? n : undefined);

export function agentRules(service: string, mirror: boolean, name: string): V1PolicyRule[] {
  const rules: V1PolicyRule[] = [
    { apiGroups: [""], resources: ["services"], resourceNames: [service], verbs: ["get", "patch"] },
    // after healing, its last call: its own ServiceAccount (the rest is owned by its Job, see ownedByJob)
    { apiGroups: [""], resources: ["serviceaccounts"], resourceNames: [name], verbs: ["delete"] },
  ];
  // mirror mode forwards to the original pods, so it must find them
  if (mirror) rules.push({ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] });
  return rules;
}

export function agentObjects(i: AgentSpecInput): { serviceAccount: V1ServiceAccount; role: V1Role; roleBinding: V1RoleBinding; job: V1Job } {
  const name = agentName(i.session);
  const labels = agentLabels(i.session, i.project, i.service);
  const meta = { name, namespace: i.namespace, labels };
  const args = [
    "agent",
    "--namespace", i.namespace,
    "--service", i.service,
    "--session", i.session,
    "--control-port", String(CONTROL_PORT),
    "--grace", `${i.graceMs}ms`,
    "--ports", i.ports.map((p) => `${p.name}:${p.listenPort}`).join(","),
    ...(i.mirror ? ["--mirror"] : []),
  ];
  const lowPorts = i.ports.some((p) => p.listenPort < 1024);
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
                ...i.ports.map((p) => ({ name: p.containerPortName, containerPort: p.listenPort, protocol: "TCP" })),
                { name: "devx-control", containerPort: CONTROL_PORT, protocol: "TCP" },
              ],
              env: [
                { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
                { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
              ],
              readinessProbe: { tcpSocket: { port: CONTROL_PORT }, periodSeconds: 1, initialDelaySeconds: 0 },
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
  return {
    serviceAccount: { apiVersion: "v1", kind: "ServiceAccount", metadata: meta },
    role: { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: meta, rules: agentRules(i.service, i.mirror, name) },
    roleBinding: {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: meta,
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name },
      subjects: [{ kind: "ServiceAccount", name, namespace: i.namespace }],
    },
    job,
  };
}

/** One permission the intercept needs from the user. */
export interface Need {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  name?: string;
  why: string;
}

export function interceptNeeds(service: string, mirror: boolean): Need[] {
  const n: Need[] = [
    { verb: "get", group: "", resource: "services", name: service, why: "read the Service" },
    { verb: "patch", group: "", resource: "services", name: service, why: "swap and restore its selector" },
    { verb: "list", group: "", resource: "pods", why: "find the agent pod" },
    { verb: "watch", group: "", resource: "pods", why: "wait for the agent pod" },
    { verb: "create", group: "", resource: "pods", subresource: "portforward", why: "tunnel to the agent" },
    { verb: "create", group: "", resource: "serviceaccounts", why: "give the agent its own identity" },
    { verb: "delete", group: "", resource: "serviceaccounts", why: "remove it afterwards" },
    { verb: "create", group: "rbac.authorization.k8s.io", resource: "roles", why: "let the agent restore the Service" },
    { verb: "delete", group: "rbac.authorization.k8s.io", resource: "roles", why: "remove it afterwards" },
    { verb: "create", group: "rbac.authorization.k8s.io", resource: "rolebindings", why: "bind the agent's Role" },
    { verb: "delete", group: "rbac.authorization.k8s.io", resource: "rolebindings", why: "remove it afterwards" },
    { verb: "create", group: "batch", resource: "jobs", why: "run the agent" },
    { verb: "delete", group: "batch", resource: "jobs", why: "stop the agent" },
  ];
  // granting a Role requires holding its permissions (RBAC escalation check)
  if (mirror) n.push({ verb: "get", group: "", resource: "pods", why: "the mirror agent's Role grants it" });
  return n;
}

export function connectNeeds(): Need[] {
  return [
    { verb: "get", group: "", resource: "services", why: "read the Service" },
    { verb: "list", group: "", resource: "pods", why: "find a ready pod" },
    { verb: "watch", group: "", resource: "pods", why: "follow pod restarts" },
    { verb: "create", group: "", resource: "pods", subresource: "portforward", why: "forward to the pod" },
  ];
}

export const needText = (n: Need, ns: string) =>
  `${n.verb} ${n.resource}${n.subresource ? `/${n.subresource}` : ""}${n.group ? `.${n.group}` : ""}${n.name ? ` "${n.name}"` : ""} in namespace ${ns} (to ${n.why})`;

/** The minimal Role + RoleBinding a user needs for connect and intercept, as YAML. */
export function rbacYaml(namespace: string, subject: { kind: "User" | "Group" | "ServiceAccount"; name: string }, mirror = true): string {
  const needs = [...interceptNeeds("*", mirror), ...connectNeeds()];
  const byKey = new Map<string, Set<string>>();
  for (const n of needs) {
    const key = `${n.group}|${n.resource}${n.subresource ? `/${n.subresource}` : ""}`;
    (byKey.get(key) ?? byKey.set(key, new Set()).get(key)!).add(n.verb);
  }
  const rules = [...byKey.entries()]
    .sort()
    .map(([key, verbs]) => {
      const [group, resource] = key.split("|");
      return `- apiGroups: ["${group}"]\n  resources: ["${resource}"]\n  verbs: [${[...verbs].sort().map((v) => `"${v}"`).join(", ")}]`;
    })
    .join("\n");
  const subj = subject.kind === "ServiceAccount" ? `- kind: ServiceAccount\n  name: ${subject.name}\n  namespace: ${namespace}` : `- kind: ${subject.kind}\n  name: ${subject.name}\n  apiGroup: rbac.authorization.k8s.io`;
  return `# Minimal permissions for \`devx bridge connect\` and \`devx bridge intercept\` in ${namespace}.
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: devx-bridge
  namespace: ${namespace}
rules:
${rules}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: devx-bridge
  namespace: ${namespace}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: devx-bridge
subjects:
${subj}
`;
}

/**
 * The Role and RoleBinding belong to the agent's Job, so the garbage collector removes them with it:
 * after a self-heal the agent deletes its ServiceAccount and exits, and the finished Job's
 * ttlSecondsAfterFinished takes the pod, the Role and the RoleBinding. (The ServiceAccount is
 * created before the Job, which needs it to start its pod, so it cannot be owned by it.)
 */
export function ownedByJob<T extends { metadata?: { ownerReferences?: unknown[] } }>(obj: T, job: V1Job): T {
  const ref = { apiVersion: "batch/v1", kind: "Job", name: job.metadata!.name!, uid: job.metadata!.uid!, blockOwnerDeletion: false };
  return { ...obj, metadata: { ...obj.metadata, ownerReferences: [ref] } };
}
