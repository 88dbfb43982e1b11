import type { KubeObject, ResourceType } from "./store.ts";
import { type Cause, invalid } from "./status.ts";

/**
 * Admission defaults and validation for the kinds devx touches, limited to what a client can
 * observe: defaulted fields it may read back, and 422s for objects a real cluster would refuse.
 */

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

let nextClusterIp = 1;

function defaultContainers(containers: any[] | undefined): void {
  for (const c of containers ?? []) {
    c.imagePullPolicy ??= String(c.image ?? "").endsWith(":latest") || !String(c.image ?? "").includes(":") ? "Always" : "IfNotPresent";
    c.terminationMessagePath ??= "/dev/termination-log";
    c.terminationMessagePolicy ??= "File";
    c.resources ??= {};
    for (const p of c.ports ?? []) p.protocol ??= "TCP";
    for (const probe of [c.readinessProbe, c.livenessProbe]) {
      if (!probe) continue;
      probe.periodSeconds ??= 10;
      probe.timeoutSeconds ??= 1;
      probe.successThreshold ??= 1;
      probe.failureThreshold ??= 3;
    }
  }
}

export function defaultPodSpec(spec: any): void {
  spec.restartPolicy ??= "Always";
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= "ClusterFirst";
  spec.schedulerName ??= "default-scheduler";
  spec.securityContext ??= {};
  spec.serviceAccountName ??= spec.serviceAccount ?? "default";
  spec.serviceAccount = spec.serviceAccountName;
  defaultContainers(spec.containers);
  defaultContainers(spec.initContainers);
}

/** Fills defaults in place on create (status is always the server's, never the client's). */
export function applyDefaults(rt: ResourceType, o: KubeObject): void {
  switch (rt.kind) {
    case "Namespace":
      o.metadata.labels = { ...o.metadata.labels, "kubernetes.io/metadata.name": o.metadata.name };
      o.spec = { finalizers: ["kubernetes"] };
      o.status = { phase: "Active" };
      break;
    case "Pod":
      o.spec ??= {};
      defaultPodSpec(o.spec);
      o.status = { phase: "Pending", qosClass: "BestEffort" };
      break;
    case "Service": {
      o.spec ??= {};
      o.spec.type ??= "ClusterIP";
      o.spec.sessionAffinity ??= "None";
      if (o.spec.type !== "ExternalName") {
        if (!o.spec.clusterIP) {
          const n = nextClusterIp++;
          o.spec.clusterIP = `10.96.${(n >> 8) & 255}.${n & 255}`;
        }
        o.spec.clusterIPs ??= [o.spec.clusterIP];
        o.spec.ipFamilies ??= ["IPv4"];
        o.spec.ipFamilyPolicy ??= "SingleStack";
        o.spec.internalTrafficPolicy ??= "Cluster";
      }
      for (const p of o.spec.ports ?? []) {
        p.protocol ??= "TCP";
        p.targetPort ??= p.port;
      }
      o.status = { loadBalancer: {} };
      break;
    }
    case "Job": {
      const s = (o.spec ??= {});
      s.parallelism ??= 1;
      s.completions ??= 1;
      s.backoffLimit ??= 6;
      s.completionMode ??= "NonIndexed";
      s.suspend ??= false;
      s.podReplacementPolicy ??= "TerminatingOrFailed";
      s.template ??= {};
      s.template.metadata ??= {};
      s.template.spec ??= {};
      // The API server generates the selector from the Job's uid (set by the store, so done after create).
      defaultPodSpec(s.template.spec);
      o.status = {};
      break;
    }
    case "NetworkPolicy": {
      const s = (o.spec ??= {});
      s.policyTypes ??= ["Ingress", ...(s.egress ? ["Egress"] : [])];
      for (const rule of [...(s.ingress ?? []), ...(s.egress ?? [])]) for (const p of rule.ports ?? []) p.protocol ??= "TCP";
      break;
    }
    case "ServiceAccount":
      break;
  }
}

/** Labels the API server adds to a Job and its template, with its uid (manualSelector unset). */
export function jobSelectorDefaults(o: KubeObject): void {
  const uid = o.metadata.uid;
  const name = o.metadata.name;
  const add = { "batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name, "controller-uid": uid, "job-name": name };
  o.spec.selector ??= { matchLabels: { "batch.kubernetes.io/controller-uid": uid } };
  o.spec.template.metadata.labels = { ...o.spec.template.metadata.labels, ...add };
  o.metadata.labels ??= { "batch.kubernetes.io/controller-uid": uid, "batch.kubernetes.io/job-name": name, "controller-uid": uid, "job-name": name };
}

function validateLabels(map: Record<string, unknown> | undefined, field: string, causes: Cause[]): void {
  for (const [k, v] of Object.entries(map ?? {})) {
    if (typeof v !== "string" || !LABEL_VALUE.test(v) || v.length > 63) {
      causes.push({ reason: "FieldValueInvalid", message: `Invalid value: ${JSON.stringify(v)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.'`, field: `${field}.${k}` });
    }
  }
}

function validateContainers(containers: any, field: string, causes: Cause[]): void {
  if (!Array.isArray(containers) || containers.length === 0) {
    causes.push({ reason: "FieldValueRequired", message: "Required value", field });
    return;
  }
  containers.forEach((c, i) => {
    if (!c?.name) causes.push({ reason: "FieldValueRequired", message: "Required value", field: `${field}[${i}].name` });
    if (!c?.image) causes.push({ reason: "FieldValueRequired", message: "Required value", field: `${field}[${i}].image` });
  });
}

/** Throws a 422 `Invalid` with one cause per problem, as upstream reports them. */
export function validate(rt: ResourceType, o: KubeObject): void {
  const causes: Cause[] = [];
  const name = o.metadata?.name ?? "";
  const nameRe = rt.kind === "Namespace" || rt.kind === "Service" ? DNS1123_LABEL : DNS1123_SUBDOMAIN;
  if (!name) causes.push({ reason: "FieldValueRequired", message: "Required value: name or generateName is required", field: "metadata.name" });
  else if (!nameRe.test(name) || name.length > (nameRe === DNS1123_LABEL ? 63 : 253)) {
    causes.push({ reason: "FieldValueInvalid", message: `Invalid value: "${name}": a lowercase RFC 1123 name must consist of lower case alphanumeric characters, '-' or '.'`, field: "metadata.name" });
  }
  validateLabels(o.metadata?.labels, "metadata.labels", causes);
  switch (rt.kind) {
    case "Pod":
      validateContainers(o.spec?.containers, "spec.containers", causes);
      break;
    case "Service": {
      const s = o.spec ?? {};
      const ports: any[] = s.ports ?? [];
      if (s.type !== "ExternalName" && ports.length === 0) causes.push({ reason: "FieldValueRequired", message: "Required value", field: "spec.ports" });
      if (s.type === "ExternalName" && !s.externalName) causes.push({ reason: "FieldValueRequired", message: "Required value", field: "spec.externalName" });
      ports.forEach((p, i) => {
        if (!(Number.isInteger(p?.port) && p.port > 0 && p.port < 65536)) causes.push({ reason: "FieldValueInvalid", message: `Invalid value: ${p?.port}: must be between 1 and 65535, inclusive`, field: `spec.ports[${i}].port` });
        if (ports.length > 1 && !p?.name) causes.push({ reason: "FieldValueRequired", message: "Required value", field: `spec.ports[${i}].name` });
        if (p?.name && ports.findIndex((q) => q?.name === p.name) !== i) causes.push({ reason: "FieldValueDuplicate", message: `Duplicate value: "${p.name}"`, field: `spec.ports[${i}].name` });
      });
      validateLabels(s.selector, "spec.selector", causes);
      break;
    }
    case "Job": {
      const t = o.spec?.template;
      validateContainers(t?.spec?.containers, "spec.template.spec.containers", causes);
      const rp = t?.spec?.restartPolicy;
      if (rp !== "Never" && rp !== "OnFailure") {
        causes.push({ reason: "FieldValueNotSupported", message: `Unsupported value: "${rp ?? "Always"}": supported values: "OnFailure", "Never"`, field: "spec.template.spec.restartPolicy" });
      }
      break;
    }
    case "RoleBinding":
    case "ClusterRoleBinding":
      if (!o.roleRef?.name || !o.roleRef?.kind) causes.push({ reason: "FieldValueRequired", message: "Required value", field: "roleRef" });
      break;
  }
  if (causes.length > 0) throw invalid(rt, name, causes);
}
