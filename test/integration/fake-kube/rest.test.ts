import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ApiException, PatchStrategy, setHeaderOptions, type V1Service } from "@kubernetes/client-node";
import { testClients } from "../../support/fake-kube/client.ts";
import { type FakeCluster, startFakeCluster } from "../../support/fake-kube/index.ts";

/** The REST surface of the fake cluster through the real @kubernetes/client-node. */

let cluster: FakeCluster;
let api: ReturnType<typeof testClients>;
const ns = "default";

beforeAll(async () => {
  cluster = await startFakeCluster();
  api = testClients(cluster);
});
afterAll(() => cluster.stop());

async function apiError(p: Promise<unknown>): Promise<{ code: number; status: any }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiException) return { code: e.code, status: JSON.parse(e.body as string) };
    throw e;
  }
  throw new Error("expected the call to fail");
}

const svc = (name: string, extra: Partial<V1Service["spec"]> = {}, labels: Record<string, string> = {}): V1Service => ({
  metadata: { name, labels },
  spec: { selector: { app: name }, ports: [{ name: "http", port: 80, targetPort: 8080 }], ...extra },
});

describe("authentication and discovery", () => {
  test("no client certificate and no token: 401 Status", async () => {
    const r = await fetch(`${cluster.apiUrl}/api/v1/namespaces`, { tls: { ca: cluster.tls.ca } } as RequestInit);
    expect(r.status).toBe(401);
    expect((await r.json()).reason).toBe("Unauthorized");
  });

  test("kubeconfig has CA, client cert/key, context and namespace", () => {
    const ctx = api.kc.getCurrentContext();
    expect(api.kc.getContextObject(ctx)?.namespace).toBe("default");
    expect(api.kc.getCurrentCluster()?.caData).toBeTruthy();
    expect(api.kc.getCurrentUser()?.certData).toBeTruthy();
    expect(api.kc.getCurrentUser()?.keyData).toBeTruthy();
  });

  test("/version, /api and /apis/batch/v1 answer like a cluster", async () => {
    const get = async (p: string) => (await api.fetch(`${cluster.apiUrl}${p}`)).json();
    expect((await get("/version")).major).toBe("1");
    expect((await get("/api")).versions).toEqual(["v1"]);
    const batch = await get("/apis/batch/v1");
    expect(batch.resources.map((r: any) => r.name)).toContain("jobs");
    const groups = (await get("/apis")).groups.map((g: any) => g.name);
    expect(groups).toEqual(expect.arrayContaining(["batch", "rbac.authorization.k8s.io", "authorization.k8s.io"]));
  });
});

describe("CRUD", () => {
  test("create fills uid, resourceVersion, creationTimestamp and defaults; duplicates are 409 AlreadyExists", async () => {
    const created = await api.core.createNamespacedService({ namespace: ns, body: svc("crud-a") });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(created.metadata?.resourceVersion)).toBeGreaterThan(0);
    expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(created.spec?.clusterIP).toMatch(/^10\.96\./);
    expect(created.spec?.ports?.[0]?.protocol).toBe("TCP");
    const dup = await apiError(api.core.createNamespacedService({ namespace: ns, body: svc("crud-a") }));
    expect(dup.code).toBe(409);
    expect(dup.status).toMatchObject({ kind: "Status", status: "Failure", reason: "AlreadyExists", message: 'services "crud-a" already exists' });
  });

  test("replace with a stale resourceVersion is 409 Conflict; with the current one it bumps version and generation", async () => {
    const s = await api.core.createNamespacedService({ namespace: ns, body: svc("crud-b") });
    const stale = structuredClone(s);
    s.spec!.selector = { app: "other" };
    const updated = await api.core.replaceNamespacedService({ namespace: ns, name: "crud-b", body: s });
    expect(Number(updated.metadata!.resourceVersion)).toBeGreaterThan(Number(s.metadata!.resourceVersion));
    expect(updated.metadata?.generation).toBe(2);
    expect(updated.metadata?.uid).toBe(s.metadata!.uid);
    stale.spec!.selector = { app: "lost-update" };
    const c = await apiError(api.core.replaceNamespacedService({ namespace: ns, name: "crud-b", body: stale }));
    expect(c.code).toBe(409);
    expect(c.status.reason).toBe("Conflict");
    expect((await api.core.readNamespacedService({ namespace: ns, name: "crud-b" })).spec?.selector).toEqual({ app: "other" });
  });

  test("delete, then get is 404 NotFound with the upstream message", async () => {
    await api.core.createNamespacedService({ namespace: ns, body: svc("crud-c") });
    await api.core.deleteNamespacedService({ namespace: ns, name: "crud-c" });
    const e = await apiError(api.core.readNamespacedService({ namespace: ns, name: "crud-c" }));
    expect(e.code).toBe(404);
    expect(e.status).toMatchObject({ reason: "NotFound", message: 'services "crud-c" not found', details: { name: "crud-c", kind: "services" } });
    expect(cluster.objects("Endpoints", ns).some((o) => o.metadata.name === "crud-c")).toBe(false);
  });

  test("invalid objects are 422 Invalid with causes; a missing namespace is 404", async () => {
    const e = await apiError(api.core.createNamespacedService({
      namespace: ns,
      body: { metadata: { name: "Bad_Name" }, spec: { ports: [{ port: 80 }, { port: 81 }] } },
    }));
    expect(e.code).toBe(422);
    expect(e.status.reason).toBe("Invalid");
    expect(e.status.details.causes.map((c: any) => c.field)).toEqual(expect.arrayContaining(["metadata.name", "spec.ports[0].name"]));
    const job = await apiError(api.batch.createNamespacedJob({
      namespace: ns, body: { metadata: { name: "j" }, spec: { template: { spec: { containers: [{ name: "c", image: "x" }] } } } },
    }));
    expect(job.code).toBe(422);
    expect(job.status.details.causes[0].field).toBe("spec.template.spec.restartPolicy");
    const nsMissing = await apiError(api.core.createNamespacedService({ namespace: "nowhere", body: svc("x") }));
    expect(nsMissing.code).toBe(404);
    expect(nsMissing.status.message).toBe('namespaces "nowhere" not found');
  });

  test("generateName; the status subresource writes only status, the main resource never does", async () => {
    const pod = await api.core.createNamespacedPod({ namespace: ns, body: { metadata: { generateName: "gen-" }, spec: { containers: [{ name: "c", image: "unmapped:1" }] } } });
    const name = pod.metadata!.name!;
    expect(name).toMatch(/^gen-[a-z0-9]{5}$/);
    const cur = await api.core.readNamespacedPod({ namespace: ns, name });
    const withStatus = { ...cur, status: { ...cur.status, phase: "Succeeded" as const } };
    await api.core.replaceNamespacedPod({ namespace: ns, name, body: { ...withStatus, metadata: { ...cur.metadata, labels: { a: "b" } } } });
    const afterMain = await api.core.readNamespacedPod({ namespace: ns, name });
    expect(afterMain.metadata?.labels).toEqual({ a: "b" });
    expect(afterMain.status?.phase).toBe("Pending");
    await api.core.replaceNamespacedPodStatus({ namespace: ns, name, body: { ...afterMain, metadata: { ...afterMain.metadata, labels: { a: "ignored" } }, status: { ...afterMain.status, phase: "Succeeded" } } });
    const afterStatus = await api.core.readNamespacedPod({ namespace: ns, name });
    expect(afterStatus.status?.phase).toBe("Succeeded");
    expect(afterStatus.metadata?.labels).toEqual({ a: "b" });
    await api.core.deleteNamespacedPod({ namespace: ns, name });
  });

  test("dryRun=All validates without storing", async () => {
    const r = await api.core.createNamespacedService({ namespace: ns, body: svc("dry"), dryRun: "All" });
    expect(r.metadata?.name).toBe("dry");
    await expect(api.core.readNamespacedService({ namespace: ns, name: "dry" })).rejects.toBeInstanceOf(ApiException);
  });

  test("namespaces: create gives a default ServiceAccount; delete empties and removes it", async () => {
    await api.core.createNamespace({ body: { metadata: { name: "team-x" } } });
    expect((await api.core.readNamespacedServiceAccount({ namespace: "team-x", name: "default" })).metadata?.name).toBe("default");
    await api.core.createNamespacedService({ namespace: "team-x", body: svc("inside") });
    await api.core.deleteNamespace({ name: "team-x" });
    await cluster.waitFor("Namespace", undefined, "team-x", (o) => !o);
    expect(cluster.objects("Service", "team-x")).toEqual([]);
  });
});

describe("deletecollection", () => {
  test("deletes exactly what the labelSelector matches", async () => {
    await api.core.createNamespacedService({ namespace: ns, body: svc("dc-1", {}, { "devx.managed": "true", "devx.session": "s1" }) });
    await api.core.createNamespacedService({ namespace: ns, body: svc("dc-2", {}, { "devx.managed": "true", "devx.session": "s2" }) });
    await api.core.deleteCollectionNamespacedService({ namespace: ns, labelSelector: "devx.managed=true,devx.session=s1" });
    const left = cluster.objects("Service", ns).map((s) => s.metadata.name).filter((n) => n.startsWith("dc-"));
    expect(left).toEqual(["dc-2"]);
  });
});

describe("selectors", () => {
  beforeAll(async () => {
    await api.core.createNamespacedService({ namespace: ns, body: svc("sel-1", {}, { tier: "web", env: "prod" }) });
    await api.core.createNamespacedService({ namespace: ns, body: svc("sel-2", {}, { tier: "web", env: "dev" }) });
    await api.core.createNamespacedService({ namespace: ns, body: svc("sel-3", {}, { tier: "db" }) });
  });
  const names = async (labelSelector?: string, fieldSelector?: string) =>
    (await api.core.listNamespacedService({ namespace: ns, labelSelector, fieldSelector })).items
      .map((s) => s.metadata!.name!).filter((n) => n.startsWith("sel-"));

  test.each([
    ["tier=web", ["sel-1", "sel-2"]],
    ["tier==web,env=prod", ["sel-1"]],
    ["tier!=web", ["sel-3"]],
    ["env in (dev,qa)", ["sel-2"]],
    ["tier=web,env notin (dev)", ["sel-1"]],
    ["env", ["sel-1", "sel-2"]],
    ["!env", ["sel-3"]],
  ])("labelSelector %s", async (sel, expected) => {
    expect(await names(sel)).toEqual(expected);
  });

  test("limit/continue pages through a list", async () => {
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await api.core.listNamespacedService({ namespace: ns, labelSelector: "tier", limit: 2, _continue: token });
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((s) => s.metadata!.name!));
      token = page.metadata?._continue;
    } while (token);
    expect(seen).toEqual(["sel-1", "sel-2", "sel-3"]);
  });

  test("fieldSelector metadata.name and an unsupported field (400)", async () => {
    expect(await names(undefined, "metadata.name=sel-2")).toEqual(["sel-2"]);
    expect(await names("tier=web", "metadata.name!=sel-2")).toEqual(["sel-1"]);
    const e = await apiError(api.core.listNamespacedService({ namespace: ns, fieldSelector: "spec.nonsense=1" }));
    expect(e.code).toBe(400);
  });

  test("pods by status.phase", async () => {
    await cluster.addAppPod({ name: "phase-pod", labels: { app: "phase" }, ports: [{ containerPort: 8080 }] });
    const running = await api.core.listNamespacedPod({ namespace: ns, fieldSelector: "status.phase=Running", labelSelector: "app=phase" });
    expect(running.items.map((p) => p.metadata?.name)).toEqual(["phase-pod"]);
    const pending = await api.core.listNamespacedPod({ namespace: ns, fieldSelector: "status.phase=Pending", labelSelector: "app=phase" });
    expect(pending.items).toEqual([]);
  });
});

describe("patch", () => {
  test("json-patch (the client's default), failing test op → 422", async () => {
    await api.core.createNamespacedService({ namespace: ns, body: svc("p-json") });
    const r = await api.core.patchNamespacedService({ namespace: ns, name: "p-json", body: [{ op: "add", path: "/metadata/annotations", value: { "devx.io/intercept": "{}" } }] });
    expect(r.metadata?.annotations).toEqual({ "devx.io/intercept": "{}" });
    const e = await apiError(api.core.patchNamespacedService({ namespace: ns, name: "p-json", body: [{ op: "test", path: "/spec/selector/app", value: "nope" }] }));
    expect(e.code).toBe(422);
  });

  test("merge patch: maps merge, null deletes a key, lists replace", async () => {
    await api.core.createNamespacedService({ namespace: ns, body: svc("p-merge") });
    const r = await api.core.patchNamespacedService(
      { namespace: ns, name: "p-merge", body: { spec: { selector: { app: null, role: "agent" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    expect(r.spec?.selector).toEqual({ role: "agent" });
  });

  test("strategic merge: the selector map merges with the old one; ports merge by port", async () => {
    await api.core.createNamespacedService({ namespace: ns, body: svc("p-smp", { ports: [{ name: "http", port: 80 }, { name: "grpc", port: 90 }] }) });
    const r = await api.core.patchNamespacedService(
      { namespace: ns, name: "p-smp", body: { spec: { selector: { role: "agent" }, ports: [{ port: 90, targetPort: 9090 }] } } },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
    expect(r.spec?.selector).toEqual({ app: "p-smp", role: "agent" });
    expect(r.spec?.ports?.map((p) => [p.name, p.port, p.targetPort])).toEqual([["http", 80, 80], ["grpc", 90, 9090]]);
  });

  test("a patch carrying a stale resourceVersion is 409", async () => {
    const s = await api.core.createNamespacedService({ namespace: ns, body: svc("p-rv") });
    await api.core.patchNamespacedService({ namespace: ns, name: "p-rv", body: [{ op: "add", path: "/metadata/labels/x", value: "1" }] });
    const e = await apiError(api.core.patchNamespacedService(
      { namespace: ns, name: "p-rv", body: { metadata: { resourceVersion: s.metadata!.resourceVersion }, spec: { selector: { app: "z" } } } },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    ));
    expect(e.code).toBe(409);
  });
});

describe("RBAC for the test user", () => {
  test("denyVerbs: SelfSubjectAccessReview says no and the real request is 403; allowAll restores", async () => {
    await api.core.createNamespacedService({ namespace: ns, body: svc("rbac-svc") });
    const review = (verb: string, resource: string, subresource?: string) => api.authz.createSelfSubjectAccessReview({
      body: { spec: { resourceAttributes: { namespace: ns, verb, resource, subresource, group: resource === "jobs" ? "batch" : "" } } },
    });
    cluster.denyVerbs([{ verb: "patch", group: "", resource: "services" }, { verb: "create", group: "", resource: "pods/portforward" }]);
    try {
      expect((await review("patch", "services")).status?.allowed).toBe(false);
      expect((await review("create", "pods", "portforward")).status?.allowed).toBe(false);
      expect((await review("get", "services")).status?.allowed).toBe(true);
      expect((await review("create", "jobs")).status?.allowed).toBe(true);
      const e = await apiError(api.core.patchNamespacedService({ namespace: ns, name: "rbac-svc", body: [{ op: "add", path: "/metadata/labels/a", value: "b" }] }));
      expect(e.code).toBe(403);
      expect(e.status).toMatchObject({
        reason: "Forbidden",
        message: 'services "rbac-svc" is forbidden: User "devx-test-user" cannot patch resource "services" in API group "" in the namespace "default"',
      });
      expect(cluster.get("Service", ns, "rbac-svc")?.metadata.labels?.a).toBeUndefined();
    } finally {
      cluster.allowAll();
    }
    expect((await review("patch", "services")).status?.allowed).toBe(true);
  });
});

describe("watch", () => {
  /** Reads NDJSON events from a watch until `count` arrived. */
  async function collect(url: string, count: number, during: () => Promise<void>): Promise<any[]> {
    const ctrl = new AbortController();
    const res = await api.fetch(url, { signal: ctrl.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const events: any[] = [];
    let buf = "";
    const reading = (async () => {
      const dec = new TextDecoder();
      while (events.length < count) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let i: number;
        while ((i = buf.indexOf("\n")) >= 0) {
          events.push(JSON.parse(buf.slice(0, i)));
          buf = buf.slice(i + 1);
        }
      }
    })();
    await during();
    await reading;
    ctrl.abort();
    return events;
  }

  test("from a resourceVersion: ADDED, MODIFIED, DELETED in order, with selector transitions", async () => {
    const list = await api.core.listNamespacedService({ namespace: ns });
    const rv = list.metadata!.resourceVersion!;
    const url = `${cluster.apiUrl}/api/v1/namespaces/${ns}/services?watch=true&resourceVersion=${rv}&labelSelector=${encodeURIComponent("w=yes")}`;
    const events = await collect(url, 5, async () => {
      await api.core.createNamespacedService({ namespace: ns, body: svc("w-1", {}, { w: "yes" }) });
      await api.core.createNamespacedService({ namespace: ns, body: svc("w-ignored", {}, { w: "no" }) });
      await api.core.patchNamespacedService({ namespace: ns, name: "w-1", body: [{ op: "add", path: "/metadata/annotations", value: { a: "1" } }] });
      await api.core.patchNamespacedService({ namespace: ns, name: "w-1", body: [{ op: "replace", path: "/metadata/labels/w", value: "no" }] });
      await api.core.patchNamespacedService({ namespace: ns, name: "w-ignored", body: [{ op: "replace", path: "/metadata/labels/w", value: "yes" }] });
      await api.core.deleteNamespacedService({ namespace: ns, name: "w-ignored" });
    });
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual([
      "ADDED w-1", "MODIFIED w-1", "DELETED w-1", "ADDED w-ignored", "DELETED w-ignored",
    ]);
    expect(events[0].object.kind).toBe("Service");
    const rvs = events.map((e) => Number(e.object.metadata.resourceVersion));
    expect([...rvs].sort((a, b) => a - b)).toEqual(rvs);
  });

  test("without a resourceVersion: synthetic ADDED for what exists, then live changes", async () => {
    await api.core.createNamespacedService({ namespace: ns, body: svc("w-existing", {}, { w2: "yes" }) });
    const events = await collect(`${cluster.apiUrl}/api/v1/namespaces/${ns}/services?watch=true&labelSelector=w2%3Dyes`, 2, async () => {
      await api.core.createNamespacedService({ namespace: ns, body: svc("w-new", {}, { w2: "yes" }) });
    });
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(["ADDED w-existing", "ADDED w-new"]);
  });

  test("sendInitialEvents + bookmarks end the initial list with the initial-events-end bookmark; /watch/ prefix works", async () => {
    await api.core.createNamespacedService({ namespace: ns, body: svc("w-init", {}, { w3: "yes" }) });
    const q = "labelSelector=w3%3Dyes&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan";
    const events = await collect(`${cluster.apiUrl}/api/v1/watch/namespaces/${ns}/services?${q}`, 2, async () => {});
    expect(events[0]).toMatchObject({ type: "ADDED", object: { metadata: { name: "w-init" } } });
    expect(events[1].type).toBe("BOOKMARK");
    expect(events[1].object.metadata.annotations).toEqual({ "k8s.io/initial-events-end": "true" });
  });

  test("pods watch sees the phase and readiness changes of a new pod", async () => {
    const rv = (await api.core.listNamespacedPod({ namespace: ns })).metadata!.resourceVersion;
    const events = await collect(`${cluster.apiUrl}/api/v1/namespaces/${ns}/pods?watch=true&resourceVersion=${rv}&fieldSelector=metadata.name%3Dwatched`, 1, async () => {
      await cluster.addAppPod({ name: "watched", labels: { app: "watched" }, ports: [{ containerPort: 8080 }] });
    });
    expect(events[0].type).toBe("ADDED");
    const more = await collect(`${cluster.apiUrl}/api/v1/namespaces/${ns}/pods?watch=true&resourceVersion=${rv}&fieldSelector=metadata.name%3Dwatched`, 4, async () => {});
    const ready = more.find((e) => e.object.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"));
    expect(ready?.type).toBe("MODIFIED");
    expect(ready.object.status.phase).toBe("Running");
  });
});
