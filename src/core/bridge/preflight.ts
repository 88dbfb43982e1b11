import type { KubeBridge, Service } from "../../../providers/kube/bridge.ts";
import { ConflictError, PermissionError, UsageError } from "../../errors.ts";
import { interceptNeeds, needText, type Need } from "./rbac.ts";
import { readAnnotation } from "../../../providers/kube/intercept-selector.ts";

/**
 * Everything an intercept checks before it creates anything: the Service's shape, that nobody
 * intercepts it already, and — through SelfSubjectAccessReview — every verb it will use, reported
 * all at once so a user asks their admin once.
 */
export async function missingPermissions(kube: KubeBridge, namespace: string, needs: Need[]): Promise<Need[]> {
  const allowed = await kube.canI(namespace, needs);
  return needs.filter((_, i) => !allowed[i]);
}

export function permissionError(missing: Need[], namespace: string, what: string): PermissionError {
  return new PermissionError(
    `${what} needs permissions you do not have:\n${missing.map((n) => `  - ${needText(n, namespace)}`).join("\n")}`,
    `nothing was created; ask a cluster admin to apply \`devx bridge rbac -n ${namespace}\``,
  );
}

export async function preflightIntercept(kube: KubeBridge, namespace: string, service: string): Promise<Service> {
  const svc = await kube.readService(namespace, service);
  if (svc.spec?.type === "ExternalName") throw new UsageError(`Service ${namespace}/${service} is an ExternalName Service (${svc.spec.externalName}); there are no pods to intercept`, "intercept the Service that backs it instead");
  if (!svc.spec?.selector || Object.keys(svc.spec.selector).length === 0)
    throw new UsageError(`Service ${namespace}/${service} has no selector (its endpoints are managed by hand)`, "devx can only intercept Services that select pods by label");
  const udp = (svc.spec.ports ?? []).filter((p) => (p.protocol ?? "TCP") !== "TCP");
  if (udp.length) throw new UsageError(`Service ${namespace}/${service} has ${udp.map((p) => `${p.protocol} port ${p.port}`).join(", ")}; the intercept tunnel carries TCP only`, "intercept a TCP-only Service");
  if (!svc.spec.ports?.length) throw new UsageError(`Service ${namespace}/${service} has no ports`, "add a port to the Service");
  const ann = readAnnotation(svc);
  if (ann)
    throw new ConflictError(
      `Service ${namespace}/${service} is already intercepted (session ${ann.session}${ann.user ? ` by ${ann.user}` : ""}, since ${ann.since})`,
      "wait for that intercept to end, or `devx bridge cleanup` if it is an orphan",
    );
  const missing = await missingPermissions(kube, namespace, interceptNeeds(service));
  if (missing.length) throw permissionError(missing, namespace, `intercepting ${namespace}/${service}`);
  return svc;
}
