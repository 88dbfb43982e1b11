import { applyDefaults, validate } from "./defaults.ts";
import type { Deleter, Propagation } from "./gc.ts";
import { randomSuffix } from "./jobs.ts";
import { PATCH_TYPES, PatchError } from "./patch.ts";
import type { Attributes, Authorizer, Identity } from "./rbac.ts";
import type { Scheduler } from "./scheduler.ts";
import { checkOfficialSchema } from "./schema.ts";
import { parseFieldSelector, parseLabelSelector, SelectorError } from "./selectors.ts";
import { ApiError, alreadyExists, badRequest, conflict, invalid, notFound, successStatus } from "./status.ts";
import { apiVersionOf, jsonEqual, type KubeObject, resourceByKind, type ResourceType, type Store } from "./store.ts";
import type { Watches } from "./watch.ts";

/** The object REST of one resource type: get/list/watch/create/update/patch/delete(-collection). */

export interface RestContext {
  store: Store;
  authz: Authorizer;
  deleter: Deleter;
  watches: Watches;
  scheduler: Scheduler;
}

export interface RestRequest {
  req: Request;
  rt: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
  query: URLSearchParams;
  who: Identity;
}

const NAMESPACES = resourceByKind("Namespace");
/** Registries that answer DELETE with the object rather than a Status (as in the OpenAPI spec). */
const RETURNS_DELETED = new Set(["pods", "services", "serviceaccounts", "namespaces"]);

export const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

async function readJson(req: Request): Promise<any> {
  const text = await req.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw badRequest(`the object provided is unrecognized or malformed: ${(e as Error).message}`);
  }
}

function dryRun(q: URLSearchParams): boolean {
  const v = q.getAll("dryRun");
  if (v.some((x) => x !== "All")) throw badRequest(`Invalid dry run value: ${v.join(",")}`);
  return v.length > 0;
}

function selectors(r: RestRequest) {
  try {
    return { labels: parseLabelSelector(r.query.get("labelSelector")), fields: parseFieldSelector(r.rt.resource, r.query.get("fieldSelector")) };
  } catch (e) {
    if (e instanceof SelectorError) throw badRequest(e.message);
    throw e;
  }
}

function checkNamespace(ctx: RestContext, r: RestRequest): void {
  if (!r.rt.namespaced) return;
  const ns = ctx.store.get(NAMESPACES, undefined, r.namespace!);
  if (!ns) throw new ApiError(404, "NotFound", `namespaces "${r.namespace}" not found`, { name: r.namespace, kind: "namespaces" });
  if (ns.metadata.deletionTimestamp) {
    throw new ApiError(403, "Forbidden", `${r.rt.resource} "${r.name ?? ""}" is forbidden: unable to create new content in namespace ${r.namespace} because it is being terminated`);
  }
}

export async function handleRest(ctx: RestContext, r: RestRequest): Promise<Response> {
  const m = r.req.method;
  if (r.rt.kind === "SelfSubjectAccessReview") return selfSubjectAccessReview(ctx, r);
  if (r.subresource === "log") return logs(ctx, r);
  if (m === "GET" && r.name) return json(mustGet(ctx, r));
  if (m === "GET") return r.query.get("watch") === "true" || r.query.get("watch") === "1" ? watch(ctx, r) : list(ctx, r);
  if (m === "POST" && !r.name) return create(ctx, r);
  if (m === "PUT" && r.name) return update(ctx, r, await readJson(r.req));
  if (m === "PATCH" && r.name) return patch(ctx, r);
  if (m === "DELETE" && r.name) return remove(ctx, r);
  if (m === "DELETE") return deleteCollection(ctx, r);
  throw new ApiError(405, "MethodNotAllowed", `the server does not allow this method on the requested resource`);
}

function mustGet(ctx: RestContext, r: RestRequest): KubeObject {
  const o = ctx.store.get(r.rt, r.namespace, r.name!);
  if (!o) throw notFound(r.rt, r.name!);
  return o;
}

function list(ctx: RestContext, r: RestRequest): Response {
  const { labels, fields } = selectors(r);
  const all = ctx.store.list(r.rt, r.namespace).filter((o) => labels(o.metadata.labels) && fields(o));
  const limit = Number(r.query.get("limit") ?? 0);
  const token = r.query.get("continue");
  let start = 0;
  try {
    start = token ? Number(JSON.parse(Buffer.from(token, "base64url").toString()).offset) : 0;
  } catch {
    throw badRequest("continue key is not valid: malformed token");
  }
  const page = limit > 0 ? all.slice(start, start + limit) : all.slice(start);
  const more = limit > 0 && start + limit < all.length;
  const items = page.map(({ apiVersion: _a, kind: _k, ...rest }) => rest);
  return json({
    kind: `${r.rt.kind}List`,
    apiVersion: apiVersionOf(r.rt),
    metadata: {
      resourceVersion: String(ctx.store.rv),
      ...(more ? { continue: Buffer.from(JSON.stringify({ offset: start + limit })).toString("base64url"), remainingItemCount: all.length - start - limit } : {}),
    },
    items,
  });
}

function watch(ctx: RestContext, r: RestRequest): Response {
  const { labels, fields } = selectors(r);
  const byName = r.name ? parseFieldSelector(r.rt.resource, `metadata.name=${r.name}`) : () => true;
  const timeout = r.query.get("timeoutSeconds");
  return ctx.watches.response({
    rt: r.rt,
    namespace: r.namespace,
    labels,
    fields: (o) => fields(o) && byName(o),
    resourceVersion: r.query.get("resourceVersion") ?? undefined,
    bookmarks: r.query.get("allowWatchBookmarks") === "true",
    sendInitialEvents: r.query.get("sendInitialEvents") === "true",
    timeoutSeconds: timeout ? Number(timeout) : undefined,
  });
}

async function create(ctx: RestContext, r: RestRequest): Promise<Response> {
  const body = await readJson(r.req);
  if (!body || typeof body !== "object") throw badRequest("the body of the request was empty");
  const o = structuredClone(body) as KubeObject;
  o.metadata ??= {} as KubeObject["metadata"];
  if (r.rt.namespaced) {
    if (o.metadata.namespace && o.metadata.namespace !== r.namespace) {
      throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
    }
    o.metadata.namespace = r.namespace;
  }
  if (!o.metadata.name && o.metadata.generateName) o.metadata.name = `${o.metadata.generateName}${randomSuffix()}`;
  checkNamespace(ctx, { ...r, name: o.metadata.name });
  checkOfficialSchema(r.rt, o);
  applyDefaults(r.rt, o);
  validate(r.rt, o);
  noEscalation(ctx, r, o);
  if (ctx.store.get(r.rt, r.namespace, o.metadata.name)) throw alreadyExists(r.rt, o.metadata.name);
  if (r.rt.kind === "Pod") {
    const sa = o.spec.serviceAccountName;
    if (!ctx.store.get(resourceByKind("ServiceAccount"), r.namespace, sa)) {
      throw new ApiError(403, "Forbidden", `pods "${o.metadata.name}" is forbidden: error looking up service account ${r.namespace}/${sa}: serviceaccount "${sa}" not found`, { name: o.metadata.name, kind: "pods" });
    }
  }
  if (dryRun(r.query)) return json({ ...o, apiVersion: apiVersionOf(r.rt), kind: r.rt.kind }, 201);
  const created = ctx.store.create(r.rt, o);
  if (r.rt === NAMESPACES) ctx.store.create(resourceByKind("ServiceAccount"), { metadata: { name: "default", namespace: created.metadata.name } });
  await ctx.store.settled();
  return json(ctx.store.get(r.rt, r.namespace, created.metadata.name) ?? created, 201);
}

/** Applies what a write may change: the status subresource writes only status, the main resource everything else. */
function nextVersion(r: RestRequest, current: KubeObject, incoming: KubeObject): KubeObject {
  if (!incoming || typeof incoming !== "object") throw badRequest("the body of the request was empty");
  const name = incoming.metadata?.name;
  if (name !== undefined && name !== r.name) throw badRequest(`the name of the object (${name}) does not match the name on the URL (${r.name})`);
  if (r.rt.namespaced && incoming.metadata?.namespace && incoming.metadata.namespace !== r.namespace) {
    throw badRequest("the namespace of the provided object does not match the namespace sent on the request");
  }
  const next = structuredClone(incoming);
  next.metadata = { ...next.metadata, name: r.name!, ...(r.rt.namespaced ? { namespace: r.namespace } : {}) };
  if (r.rt.status && r.subresource === "status") return { ...current, status: next.status, metadata: { ...current.metadata, resourceVersion: next.metadata.resourceVersion } };
  if (r.rt.status) next.status = current.status;
  immutable(r, current, next);
  return next;
}

function immutable(r: RestRequest, current: KubeObject, next: KubeObject): void {
  const same = jsonEqual;
  const fail = (field: string, msg = "field is immutable") => {
    throw invalid(r.rt, r.name!, [{ reason: "FieldValueInvalid", message: `Invalid value: ${msg}`, field }]);
  };
  if (r.rt.kind === "Service") {
    next.spec ??= {};
    if (!next.spec.clusterIP) {
      next.spec.clusterIP = current.spec?.clusterIP;
      next.spec.clusterIPs = current.spec?.clusterIPs;
    }
    if (next.spec.clusterIP !== current.spec?.clusterIP) fail("spec.clusterIP", "may not change once set");
    for (const p of next.spec.ports ?? []) {
      p.protocol ??= "TCP";
      p.targetPort ??= p.port;
    }
  }
  if (r.rt.kind === "Job") {
    if (!same(next.spec?.selector, current.spec?.selector)) fail("spec.selector");
    if (!same(next.spec?.template, current.spec?.template)) fail("spec.template");
  }
  if (r.rt.kind === "Pod") {
    const strip = (s: any) => ({ ...s, containers: (s?.containers ?? []).map((c: any) => ({ ...c, image: undefined })), activeDeadlineSeconds: undefined, tolerations: undefined });
    if (!same(strip(next.spec), strip(current.spec))) fail("spec", "pod updates may not change fields other than `spec.containers[*].image`, `spec.activeDeadlineSeconds` or `spec.tolerations`");
  }
}

async function update(ctx: RestContext, r: RestRequest, body: any): Promise<Response> {
  const current = mustGet(ctx, r);
  const next = nextVersion(r, current, body);
  const rv = next.metadata.resourceVersion;
  if (rv && rv !== current.metadata.resourceVersion) throw conflict(r.rt, r.name!);
  const { status: _status, ...spec } = next;
  checkOfficialSchema(r.rt, spec as KubeObject);
  validate(r.rt, next);
  noEscalation(ctx, r, next);
  if (dryRun(r.query)) return json({ ...next, metadata: { ...next.metadata, resourceVersion: current.metadata.resourceVersion } });
  const saved = ctx.store.update(r.rt, next);
  await ctx.store.settled();
  return json(saved);
}

async function patch(ctx: RestContext, r: RestRequest): Promise<Response> {
  const type = (r.req.headers.get("content-type") ?? "").split(";")[0]!.trim() as keyof typeof PATCH_TYPES;
  const apply = PATCH_TYPES[type];
  if (!apply) {
    throw new ApiError(415, "UnsupportedMediaType", `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json`);
  }
  const current = mustGet(ctx, r);
  const body = await readJson(r.req);
  let patched: KubeObject;
  try {
    patched = apply(current, body);
  } catch (e) {
    if (e instanceof PatchError) throw invalid(r.rt, r.name!, [{ reason: "FieldValueInvalid", message: e.message, field: "" }]);
    throw e;
  }
  return update(ctx, r, patched);
}

function deleteOptions(r: RestRequest, body: any): { propagationPolicy?: Propagation; gracePeriodSeconds?: number; preconditions?: any } {
  const q = r.query;
  const policy = q.get("propagationPolicy") ?? body?.propagationPolicy
    ?? (body?.orphanDependents === true || q.get("orphanDependents") === "true" ? "Orphan" : body?.orphanDependents === false ? "Background" : undefined);
  if (policy && !["Background", "Foreground", "Orphan"].includes(policy)) throw badRequest(`Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan"`);
  const grace = q.get("gracePeriodSeconds") ?? body?.gracePeriodSeconds;
  return { propagationPolicy: policy, gracePeriodSeconds: grace === undefined || grace === null ? undefined : Number(grace), preconditions: body?.preconditions };
}

async function remove(ctx: RestContext, r: RestRequest): Promise<Response> {
  const current = mustGet(ctx, r);
  const opts = deleteOptions(r, await readJson(r.req));
  const pre = opts.preconditions;
  if (pre?.uid && pre.uid !== current.metadata.uid) throw conflict(r.rt, r.name!, `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${current.metadata.uid}`);
  if (pre?.resourceVersion && pre.resourceVersion !== current.metadata.resourceVersion) {
    throw conflict(r.rt, r.name!, `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${current.metadata.resourceVersion}`);
  }
  if (dryRun(r.query)) return json(RETURNS_DELETED.has(r.rt.resource) ? current : successStatus(r.rt, r.name!, current.metadata.uid));
  const after = ctx.deleter.delete(r.rt, r.namespace, r.name!, opts);
  await ctx.store.settled();
  const stillThere = ctx.store.get(r.rt, r.namespace, r.name!);
  if (stillThere) return json(stillThere);
  return json(RETURNS_DELETED.has(r.rt.resource) ? after ?? current : successStatus(r.rt, r.name!, current.metadata.uid));
}

async function deleteCollection(ctx: RestContext, r: RestRequest): Promise<Response> {
  const { labels, fields } = selectors(r);
  const opts = deleteOptions(r, await readJson(r.req));
  const victims = ctx.store.list(r.rt, r.namespace).filter((o) => labels(o.metadata.labels) && fields(o));
  if (!dryRun(r.query)) for (const o of victims) ctx.deleter.delete(r.rt, o.metadata.namespace, o.metadata.name, opts);
  await ctx.store.settled();
  return json({ kind: `${r.rt.kind}List`, apiVersion: apiVersionOf(r.rt), metadata: { resourceVersion: String(ctx.store.rv) }, items: victims.map(({ apiVersion: _a, kind: _k, ...o }) => o) });
}

/** RBAC escalation prevention: a Role, or a RoleBinding's role, may only grant what the writer holds there. */
function noEscalation(ctx: RestContext, r: RestRequest, o: KubeObject): void {
  if (!["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"].includes(r.rt.kind)) return;
  const binding = r.rt.kind.endsWith("Binding");
  if (binding) {
    // holding `bind` on the referenced role is the other way to be allowed to bind it
    const ref = o.roleRef ?? {};
    const bindAttrs = { verb: "bind", group: "rbac.authorization.k8s.io", resource: ref.kind === "ClusterRole" ? "clusterroles" : "roles", namespace: ref.kind === "ClusterRole" ? undefined : r.namespace, name: ref.name };
    if (ctx.authz.allowed(r.who, bindAttrs)) return;
  }
  const missing = ctx.authz.notHeld(r.who, r.namespace, binding ? ctx.authz.rulesOf(o.roleRef, r.namespace) : o.rules);
  if (!missing) return;
  throw new ApiError(403, "Forbidden", `${r.rt.resource}.${r.rt.group} "${o.metadata.name}" is forbidden: user "${r.who.user}" (groups=${JSON.stringify(r.who.groups).replace(/,/g, " ")}) is attempting to grant RBAC permissions not currently held:\n${missing}`, { name: o.metadata.name, group: r.rt.group, kind: r.rt.resource });
}

function logs(ctx: RestContext, r: RestRequest): Response {
  mustGet(ctx, r);
  return new Response(ctx.scheduler.logs(r.namespace!, r.name!), { headers: { "content-type": "text/plain" } });
}

async function selfSubjectAccessReview(ctx: RestContext, r: RestRequest): Promise<Response> {
  if (r.req.method !== "POST") throw new ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
  const body = await readJson(r.req);
  checkOfficialSchema(r.rt, body ?? {});
  const ra = body?.spec?.resourceAttributes;
  const nra = body?.spec?.nonResourceAttributes;
  if (!ra && !nra) {
    throw invalid(r.rt, "", [{ reason: "FieldValueRequired", message: "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified", field: "spec.resourceAttributes" }]);
  }
  const attrs: Attributes = { verb: ra?.verb ?? "", group: ra?.group ?? "", resource: ra?.resource ?? "", subresource: ra?.subresource || undefined, namespace: ra?.namespace || undefined, name: ra?.name || undefined };
  const allowed = nra ? true : ctx.authz.allowed(r.who, attrs);
  return json({
    kind: "SelfSubjectAccessReview",
    apiVersion: "authorization.k8s.io/v1",
    metadata: { creationTimestamp: null },
    spec: body.spec,
    status: allowed ? { allowed: true, reason: r.who.serviceAccount ? "RBAC: allowed by RoleBinding" : "" } : { allowed: false },
  }, 201);
}
