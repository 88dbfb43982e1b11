/**
 * Every Kubernetes call the bridge makes as the user, as RBAC needs: the preflights check them with
 * SelfSubjectAccessReview, and `devx bridge rbac` prints exactly their union, so the printed Role
 * and the checks can never disagree.
 */
export interface Need {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  name?: string;
  why: string;
}

/**
 * Port-forward over WebSocket is an HTTP GET, authorized as `get pods/portforward`; from Kubernetes
 * 1.35 the API server also requires `create` on it (AuthorizePodWebsocketUpgradeCreatePermission),
 * which SPDY (a POST) always needed. Both are granted and both are checked.
 */
const portForward = (why: string): Need[] => [
  { verb: "get", group: "", resource: "pods", subresource: "portforward", why: `${why} (WebSocket)` },
  { verb: "create", group: "", resource: "pods", subresource: "portforward", why: `${why} (Kubernetes 1.35+, SPDY)` },
];

/** What `devx bridge intercept` does, from preflight to teardown. */
export function interceptNeeds(service: string): Need[] {
  return [
    { verb: "get", group: "", resource: "services", name: service, why: "read the Service" },
    { verb: "patch", group: "", resource: "services", name: service, why: "swap and restore its selector" },
    { verb: "get", group: "", resource: "pods", why: "check on the agent pod" },
    { verb: "list", group: "", resource: "pods", why: "find the agent pod" },
    { verb: "watch", group: "", resource: "pods", why: "wait for the agent pod" },
    ...portForward("tunnel to the agent"),
    { verb: "create", group: "", resource: "serviceaccounts", why: "give the agent its own identity" },
    { verb: "delete", group: "", resource: "serviceaccounts", why: "remove it afterwards" },
    { verb: "create", group: "", resource: "secrets", why: "hand the agent its tunnel secret" },
    { verb: "delete", group: "", resource: "secrets", why: "remove it afterwards" },
    { verb: "create", group: "rbac.authorization.k8s.io", resource: "roles", why: "let the agent restore the Service" },
    { verb: "delete", group: "rbac.authorization.k8s.io", resource: "roles", why: "remove it afterwards" },
    { verb: "create", group: "rbac.authorization.k8s.io", resource: "rolebindings", why: "bind the agent's Role" },
    { verb: "delete", group: "rbac.authorization.k8s.io", resource: "rolebindings", why: "remove it afterwards" },
    { verb: "create", group: "networking.k8s.io", resource: "networkpolicies", why: "deny other ingress to the agent pod" },
    { verb: "delete", group: "networking.k8s.io", resource: "networkpolicies", why: "remove it afterwards" },
    { verb: "create", group: "batch", resource: "jobs", why: "run the agent" },
    { verb: "delete", group: "batch", resource: "jobs", why: "stop the agent" },
  ];
  // Granting a Role requires holding its permissions (the RBAC escalation check): the agent's Role
  // (get/patch its Service, delete its ServiceAccount, get/list pods in mirror mode) is covered above.
}

export function connectNeeds(): Need[] {
  return [
    { verb: "get", group: "", resource: "services", why: "read the Service" },
    { verb: "list", group: "", resource: "pods", why: "find a ready pod" },
    { verb: "watch", group: "", resource: "pods", why: "follow pod restarts" },
    ...portForward("forward to the pod"),
  ];
}

/** `devx bridge status --orphans` and `devx bridge cleanup` (the namespaced fallback of findOrphans). */
export function cleanupNeeds(): Need[] {
  const list = (group: string, resource: string): Need => ({ verb: "list", group, resource, why: "find devx agents left behind" });
  return [
    list("batch", "jobs"),
    list("", "pods"),
    list("", "serviceaccounts"),
    list("rbac.authorization.k8s.io", "roles"),
    list("rbac.authorization.k8s.io", "rolebindings"),
    list("", "services"),
    { verb: "get", group: "", resource: "services", why: "read an intercepted Service" },
    { verb: "patch", group: "", resource: "services", why: "restore an intercepted Service's selector" },
    { verb: "watch", group: "", resource: "pods", why: "wait for agent pods to be gone" },
    { verb: "delete", group: "", resource: "pods", why: "remove agent pods whose Job is gone" },
    { verb: "delete", group: "batch", resource: "jobs", why: "remove left agents" },
    { verb: "delete", group: "", resource: "serviceaccounts", why: "remove left agents' identities" },
    { verb: "delete", group: "", resource: "secrets", why: "remove left tunnel secrets" },
    { verb: "delete", group: "rbac.authorization.k8s.io", resource: "roles", why: "remove left agents' Roles" },
    { verb: "delete", group: "rbac.authorization.k8s.io", resource: "rolebindings", why: "remove left agents' RoleBindings" },
    { verb: "delete", group: "networking.k8s.io", resource: "networkpolicies", why: "remove left agents' NetworkPolicies" },
  ];
}

export const needText = (n: Need, ns: string) =>
  `${n.verb} ${n.resource}${n.subresource ? `/${n.subresource}` : ""}${n.group ? `.${n.group}` : ""}${n.name ? ` "${n.name}"` : ""} in namespace ${ns} (to ${n.why})`;

/** Every need of every bridge command, as Role rules (resource names dropped: any Service may be intercepted). */
export function bridgeRules(): Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }> {
  const byKey = new Map<string, Set<string>>();
  for (const n of [...interceptNeeds("*"), ...connectNeeds(), ...cleanupNeeds()]) {
    const key = `${n.group}|${n.resource}${n.subresource ? `/${n.subresource}` : ""}`;
    (byKey.get(key) ?? byKey.set(key, new Set()).get(key)!).add(n.verb);
  }
  return [...byKey.entries()].sort().map(([key, verbs]) => {
    const [group, resource] = key.split("|") as [string, string];
    return { apiGroups: [group], resources: [resource], verbs: [...verbs].sort() };
  });
}

/** The minimal Role + RoleBinding a user needs for connect, intercept, status and cleanup, as YAML. */
export function rbacYaml(namespace: string, subject: { kind: "User" | "Group" | "ServiceAccount"; name: string }): string {
  const rules = bridgeRules()
    .map((r) => `- apiGroups: ["${r.apiGroups[0]}"]\n  resources: ["${r.resources[0]}"]\n  verbs: [${r.verbs.map((v) => `"${v}"`).join(", ")}]`)
    .join("\n");
  const subj = subject.kind === "ServiceAccount" ? `- kind: ServiceAccount\n  name: ${subject.name}\n  namespace: ${namespace}` : `- kind: ${subject.kind}\n  name: ${subject.name}\n  apiGroup: rbac.authorization.k8s.io`;
  return `# Minimal permissions for \`devx bridge connect\`, \`intercept\`, \`status\` and \`cleanup\` in ${namespace}.
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
