import { Job } from "kubernetes-models/batch/v1/Job";
import { SelfSubjectAccessReview } from "kubernetes-models/authorization.k8s.io/v1/SelfSubjectAccessReview";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Endpoints } from "kubernetes-models/v1/Endpoints";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Pod } from "kubernetes-models/v1/Pod";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { ApiError, invalid, type Cause } from "./status.ts";
import { apiVersionOf, type KubeObject, type ResourceType } from "./store.ts";

/**
 * Every object a client sends is checked against the official Kubernetes OpenAPI schemas (npm
 * `kubernetes-models`, generated from them), not against any client's own types. A value of the
 * wrong JSON type is refused as the API server's decoder refuses it (400 BadRequest); a missing
 * required field or a value outside an enum as validation does (422 Invalid, one cause per problem).
 */
type Model = new (o: any) => { validate(): void };
const MODELS: Record<string, Model> = {
  Pod, Service, ServiceAccount, Secret, ConfigMap, Namespace, Endpoints, Job, Role, RoleBinding, ClusterRole, ClusterRoleBinding, NetworkPolicy, SelfSubjectAccessReview,
};

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params?: { missingProperty?: string; allowedValues?: unknown[]; type?: string };
}

const fieldPath = (p: string) => p.split("/").filter(Boolean).map((s, i) => (/^\d+$/.test(s) ? `[${s}]` : i === 0 ? s : `.${s}`)).join("");

export function checkOfficialSchema(rt: ResourceType, o: KubeObject): void {
  const Model = MODELS[rt.kind];
  if (!Model) return;
  try {
    new Model({ ...o, apiVersion: apiVersionOf(rt), kind: rt.kind }).validate();
  } catch (e) {
    const errors = ((e as { errors?: AjvError[] }).errors ?? []).filter((x) => x.keyword !== "if" && x.keyword !== "anyOf" && x.keyword !== "oneOf");
    if (errors.length === 0) throw e;
    const wrongType = errors.find((x) => x.keyword === "type");
    if (wrongType) {
      throw new ApiError(400, "BadRequest", `${rt.kind} in version "${rt.version}" cannot be handled as a ${rt.kind}: json: cannot unmarshal into Go struct field ${rt.kind}.${fieldPath(wrongType.instancePath).replace(/\[\d+\]/g, "")} of type ${wrongType.params?.type}`);
    }
    const causes: Cause[] = errors.map((x) =>
      x.keyword === "required"
        ? { reason: "FieldValueRequired", message: "Required value", field: [fieldPath(x.instancePath), x.params?.missingProperty].filter(Boolean).join(".") }
        : x.keyword === "enum"
          ? { reason: "FieldValueNotSupported", message: `Unsupported value: ${JSON.stringify(valueAt(o, x.instancePath))}: supported values: ${(x.params?.allowedValues ?? []).map((v) => JSON.stringify(v)).join(", ")}`, field: fieldPath(x.instancePath) }
          : { reason: "FieldValueInvalid", message: `Invalid value: ${JSON.stringify(valueAt(o, x.instancePath))}: ${x.message}`, field: fieldPath(x.instancePath) },
    );
    throw invalid(rt, o.metadata?.name ?? "", causes);
  }
}

function valueAt(o: unknown, pointer: string): unknown {
  return pointer.split("/").filter(Boolean).reduce<any>((v, k) => (v == null ? v : v[k]), o);
}
