import type { KubeObject, Store } from "./store.ts";
import { resourceByKind } from "./store.ts";

/** Who a request is from: the kubeconfig's test user (client cert) or a service account (bearer token). */
export interface Identity {
  user: string;
  groups: string[];
  serviceAccount?: { namespace: string; name: string };
}

/** What a request wants to do, in RBAC terms (resource may carry a subresource: `pods/portforward`). */
export interface Attributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** A rule of `cluster.denyVerbs`: resource may be `pods` or `pods/portforward`; `*` matches anything. */
export interface DenyRule {
  verb: string;
  group?: string;
  resource: string;
  namespace?: string;
}

const ANY = "*";

function ruleAllows(rule: any, a: Attributes): boolean {
  const groups: string[] = rule.apiGroups ?? [];
  const resources: string[] = rule.resources ?? [];
  const verbs: string[] = rule.verbs ?? [];
  const names: string[] = rule.resourceNames ?? [];
  const full = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  if (!verbs.includes(ANY) && !verbs.includes(a.verb)) return false;
  if (!groups.includes(ANY) && !groups.includes(a.group)) return false;
  const resOk = resources.some((r) => r === ANY || r === full || (a.subresource && r === `${a.resource}/*`) || (!a.subresource && r === `*`) || (a.subresource && r === `*/${a.subresource}`));
  if (!resOk) return false;
  // resourceNames can only restrict requests that name an object (never create or list).
  return names.length === 0 || (a.name !== undefined && names.includes(a.name));
}

/**
 * Authorization as the API server does it. Members of system:masters may do anything. The test user
 * is, by default, a cluster admin minus the verbs a test denied; with `enforce()` it gets exactly what
 * Roles and ClusterRoles bound to it (as User or Group) grant, like a service account, which always
 * gets exactly that (by RoleBinding in the namespace, or ClusterRoleBinding).
 */
export class Authorizer {
  private denied: DenyRule[] = [];
  private enforced = false;

  constructor(private store: Store) {}

  deny(rules: DenyRule[]): void {
    this.denied.push(...rules);
  }

  allowAll(): void {
    this.denied = [];
  }

  /** The test user is authorized by RBAC objects only (bind it to a Role with the admin identity). */
  enforce(on = true): void {
    this.enforced = on;
  }

  allowed(who: Identity, a: Attributes): boolean {
    if (who.groups.includes("system:masters")) return true;
    if (!who.serviceAccount && !this.enforced) return !this.denied.some((d) => this.denyMatches(d, a));
    return this.bindingsAllow(who, a);
  }

  /**
   * The RBAC escalation check: a Role (or a RoleBinding's role) may only grant what its creator holds
   * in that namespace. Returns the first rule not held, as upstream prints it, or undefined.
   */
  notHeld(who: Identity, namespace: string | undefined, rules: any[]): string | undefined {
    if (who.groups.includes("system:masters")) return undefined;
    for (const r of rules ?? []) {
      for (const verb of r.verbs ?? []) for (const group of r.apiGroups ?? []) for (const res of r.resources ?? []) {
        const [resource, subresource] = String(res).split("/");
        for (const name of r.resourceNames?.length ? r.resourceNames : [undefined]) {
          if (!this.allowed(who, { verb, group, resource: resource!, subresource, namespace, name })) {
            return `{APIGroups:[${JSON.stringify(group)}], Resources:[${JSON.stringify(res)}]${name ? `, ResourceNames:[${JSON.stringify(name)}]` : ""}, Verbs:[${JSON.stringify(verb)}]}`;
          }
        }
      }
    }
    return undefined;
  }

  private denyMatches(d: DenyRule, a: Attributes): boolean {
    const full = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
    return (d.verb === ANY || d.verb === a.verb)
      && (d.group === undefined || d.group === ANY || d.group === a.group)
      && (d.resource === ANY || d.resource === full)
      && (d.namespace === undefined || d.namespace === a.namespace);
  }

  private subjectMatches(subjects: any[] | undefined, who: Identity): boolean {
    const sa = who.serviceAccount;
    return (subjects ?? []).some((s) =>
      (s.kind === "ServiceAccount" && sa && s.name === sa.name && (s.namespace ?? "") === sa.namespace)
      || (s.kind === "User" && s.name === who.user)
      || (s.kind === "Group" && who.groups.includes(s.name)));
  }

  private roleRules(ref: any, bindingNs: string | undefined): any[] {
    const rt = resourceByKind(ref?.kind === "ClusterRole" ? "ClusterRole" : "Role");
    const role: KubeObject | undefined = this.store.get(rt, ref?.kind === "ClusterRole" ? undefined : bindingNs, ref?.name ?? "");
    return role?.rules ?? [];
  }

  /** Rules of the Roles a RoleBinding refers to (for the escalation check of a binding). */
  rulesOf(ref: any, namespace: string | undefined): any[] {
    return this.roleRules(ref, namespace);
  }

  private bindingsAllow(who: Identity, a: Attributes): boolean {
    const rules: any[] = [];
    if (a.namespace) {
      for (const rb of this.store.list(resourceByKind("RoleBinding"), a.namespace)) {
        if (this.subjectMatches(rb.subjects, who)) rules.push(...this.roleRules(rb.roleRef, a.namespace));
      }
    }
    for (const crb of this.store.list(resourceByKind("ClusterRoleBinding"))) {
      if (this.subjectMatches(crb.subjects, who)) rules.push(...this.roleRules(crb.roleRef, undefined));
    }
    return rules.some((r) => ruleAllows(r, a));
  }
}

/** The message upstream puts in a 403 Status, word for word. */
export function forbiddenMessage(who: Identity, a: Attributes): string {
  const full = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const what = a.name ? `${full} "${a.name}"` : full;
  const scope = a.namespace ? `in the namespace "${a.namespace}"` : "at the cluster scope";
  return `${what} is forbidden: User "${who.user}" cannot ${a.verb} resource "${full}" in API group "${a.group}" ${scope}`;
}
