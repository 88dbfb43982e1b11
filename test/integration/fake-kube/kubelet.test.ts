import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { testClients } from "../../support/fake-kube/client.ts";
import { TEST_GROUP } from "../../support/fake-kube/certs.ts";
import { type FakeCluster, type KubeObject, startFakeCluster } from "../../support/fake-kube/index.ts";
import { loadKube } from "../../../providers/kube/client.ts";
import { openPortForward } from "../../../providers/kube/port-forward.ts";

/**
 * What the fake's kubelet and API server enforce so tests catch what a real cluster would: port-forward
 * to localhost in the pod, image pulls that fail, securityContext, Secrets the container needs, the
 * token mount, the official schemas, and RBAC for the test user.
 */
let cluster: FakeCluster;
let api: ReturnType<typeof testClients>;
const ns = "default";
const LISTEN = join(import.meta.dir, "fixtures", "listen.ts");

beforeAll(async () => {
  cluster = await startFakeCluster({ images: { "busybox:1": "/bin/sh", "probe:1": process.execPath } });
  api = testClients(cluster);
});
afterAll(() => cluster.stop());

async function pod(name: string, container: Record<string, unknown>, spec: Record<string, unknown> = {}) {
  await api.core.createNamespacedPod({ namespace: ns, body: { metadata: { name }, spec: { restartPolicy: "Never", containers: [{ name: "main", image: "busybox:1", ...container }], ...spec } } as never });
}
const waiting = (name: string, reason: string) => cluster.waitFor("Pod", ns, name, (p) => p?.status?.containerStatuses?.[0]?.state?.waiting?.reason === reason, 10_000);
const done = (name: string) => cluster.waitFor("Pod", ns, name, (p) => ["Succeeded", "Failed"].includes(p?.status?.phase), 10_000);
const logs = (name: string) => cluster.podLogs(ns, name).trim();

async function forward(name: string, port: number): Promise<string> {
  const kube = loadKube({ kubeconfig: cluster.kubeconfigPath });
  try {
    const s = await openPortForward(kube, ns, name, port);
    return await new Promise<string>((resolve) => {
      let got = "";
      s.on("data", (d: Buffer) => (got += d));
      s.on("end", () => resolve(got.trim()));
      s.on("error", (e) => resolve(`error: ${e.message}`));
    });
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

describe("port-forward dials localhost inside the pod (as containerd and CRI-O do)", () => {
  test("127.0.0.1 and 0.0.0.0 listeners are reached; one on the pod IP only is not, and another pod's 127.0.0.1 listener is never reached instead", async () => {
    const listener = (host: string, port: number) => ({ image: "probe:1", command: ["bun", LISTEN], env: [{ name: "LISTEN_HOST", value: host }, { name: "LISTEN_PORT", value: String(port) }], readinessProbe: undefined });
    await pod("lo-only", listener("127.0.0.1", 17001));
    await pod("ip-only", { ...listener("", 17001), env: [{ name: "LISTEN_HOST", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } }, { name: "LISTEN_PORT", value: "17001" }] });
    await pod("any", listener("0.0.0.0", 17002));
    // each says "listening" on stdout once bound (poll the log with a deadline)
    for (const deadline = Date.now() + 10_000; !["lo-only", "ip-only", "any"].every((p) => logs(p).includes("listening")); ) {
      if (Date.now() > deadline) throw new Error("the listener pods did not start");
      await Bun.sleep(20);
    }
    expect(await forward("lo-only", 17001)).toBe("pong lo-only");
    expect(await forward("any", 17002)).toBe("pong any");
    const refused = await forward("ip-only", 17001);
    expect(refused).toContain("failed to connect to localhost:17001 inside namespace");
    expect(refused).not.toContain("pong");
    for (const p of ["lo-only", "ip-only", "any"]) await api.core.deleteNamespacedPod({ namespace: ns, name: p, gracePeriodSeconds: 0 });
  }, 30_000);
});

describe("images", () => {
  test("an image nobody has: Pending, ContainerCreating, then ErrImagePull and ImagePullBackOff with containerd's messages", async () => {
    await pod("nope", { image: "registry.example.com/team/nope:1" });
    const p = await cluster.waitFor("Pod", ns, "nope", (x) => !!x?.status?.containerStatuses, 5000);
    expect(p!.status.containerStatuses[0].state.waiting.reason).toBe("ContainerCreating");
    const pulled = await waiting("nope", "ErrImagePull");
    expect(pulled!.status.phase).toBe("Pending");
    expect(pulled!.status.containerStatuses[0].state.waiting.message).toBe('rpc error: code = NotFound desc = failed to pull and unpack image "registry.example.com/team/nope:1": failed to resolve reference "registry.example.com/team/nope:1": registry.example.com/team/nope:1: not found');
    const backoff = await waiting("nope", "ImagePullBackOff");
    expect(backoff!.status.containerStatuses[0].state.waiting.message).toStartWith('Back-off pulling image "registry.example.com/team/nope:1": ErrImagePull: rpc error');
    await pod("short", { image: "alpine" });
    expect((await waiting("short", "ErrImagePull"))!.status.containerStatuses[0].state.waiting.message).toContain('"docker.io/library/alpine:latest"');
  }, 20_000);
});

describe("securityContext", () => {
  test("runAsNonRoot with an image user of root is refused (CreateContainerConfigError)", async () => {
    await pod("rootish", { command: ["sh", "-c", "id -u"] }, { securityContext: { runAsNonRoot: true } });
    const p = await waiting("rootish", "CreateContainerConfigError");
    expect(p!.status.containerStatuses[0].state.waiting.message).toMatch(/^container has runAsNonRoot and image will run as root \(pod: "rootish_default\(.+\)", container: main\)$/);
  });

  test.if(process.getuid?.() === 0)("runAsUser/runAsGroup are the process's ids; a read-only root filesystem cannot be written", async () => {
    await pod("as-user", { command: ["sh", "-c", "id -u; id -g; touch ./x && echo wrote || echo read-only"], securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false } }, { securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65533 } });
    await done("as-user");
    expect(logs("as-user").split("\n").map((l) => l.trim()).filter((l) => !l.startsWith("touch"))).toEqual(["65532", "65533", "read-only"]);
    await pod("as-user-rw", { command: ["sh", "-c", "touch ./x && echo wrote"] }, { securityContext: { runAsUser: 65532 } });
    await done("as-user-rw");
    expect(logs("as-user-rw")).toBe("wrote");
  });

  test("a Secret the container needs: CreateContainerConfigError until it exists, then it runs", async () => {
    await pod("needs-secret", { command: ["sh", "-c", 'echo "token=$TOKEN"'], env: [{ name: "TOKEN", valueFrom: { secretKeyRef: { name: "later", key: "token" } } }] });
    const p = await waiting("needs-secret", "CreateContainerConfigError");
    expect(p!.status.containerStatuses[0].state.waiting.message).toBe('secret "later" not found');
    await api.core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: "later" }, data: { token: Buffer.from("abc").toString("base64") } } });
    await done("needs-secret");
    expect(logs("needs-secret")).toBe("token=abc");
  });

  test("automountServiceAccountToken: false leaves the pod without a token", async () => {
    await pod("no-token", { command: ["sh", "-c", 'test -e "$DEVX_SA_DIR/token" && echo token || echo none'] }, { automountServiceAccountToken: false });
    await pod("token", { command: ["sh", "-c", 'test -e "$DEVX_SA_DIR/token" && echo token || echo none'] });
    await done("no-token");
    await done("token");
    expect([logs("no-token"), logs("token")]).toEqual(["none", "token"]);
  });
});

describe("objects are checked against the official schemas", () => {
  test("a wrong JSON type is 400 BadRequest; a missing required field or a value outside an enum is 422 Invalid with causes", async () => {
    const post = (body: unknown) => api.fetch(`${cluster.apiUrl}/apis/batch/v1/namespaces/${ns}/jobs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const job = (container: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ apiVersion: "batch/v1", kind: "Job", metadata: { name: "bad" }, spec: { template: { spec: { restartPolicy: "Never", containers: [{ name: "c", image: "busybox:1", ...container }], ...extra } } } });
    const wrongType = await post(job({ ports: [{ containerPort: "http" }] }));
    expect(wrongType.status).toBe(400);
    expect(((await wrongType.json()) as KubeObject).reason).toBe("BadRequest");
    const missing = await post(job({ name: undefined }));
    expect(missing.status).toBe(422);
    const status = (await missing.json()) as KubeObject;
    expect(status).toMatchObject({ kind: "Status", apiVersion: "v1", status: "Failure", reason: "Invalid", code: 422, details: { name: "bad", group: "batch", kind: "Job" } });
    expect(status.details.causes).toContainEqual({ reason: "FieldValueRequired", message: "Required value", field: "spec.template.spec.containers[0].name" });
    const label = await post({ ...job({}), metadata: { name: "bad", labels: { "devx.project": "x".repeat(64) } } });
    expect(label.status).toBe(422);
    expect(cluster.get("Job", ns, "bad")).toBeUndefined();
  });
});

describe("RBAC enforced for the test user", () => {
  test("only what its Role grants; a Role granting more than its creator holds is refused (escalation check)", async () => {
    const admin = loadKube({ kubeconfig: cluster.adminKubeconfigPath });
    await admin.rbac.createNamespacedRole({ namespace: ns, body: { metadata: { name: "limited" }, rules: [{ apiGroups: [""], resources: ["services"], verbs: ["get"] }, { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles"], verbs: ["create"] }] } });
    await admin.rbac.createNamespacedRoleBinding({ namespace: ns, body: { metadata: { name: "limited" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "limited" }, subjects: [{ kind: "Group", name: TEST_GROUP, apiGroup: "rbac.authorization.k8s.io" }] } });
    cluster.enforceRbac();
    const pods = await api.fetch(`${cluster.apiUrl}/api/v1/namespaces/${ns}/pods`);
    expect(pods.status).toBe(403);
    expect(((await pods.json()) as KubeObject).message).toBe('pods is forbidden: User "devx-test-user" cannot list resource "pods" in API group "" in the namespace "default"');
    await api.rbac.createNamespacedRole({ namespace: ns, body: { metadata: { name: "ok" }, rules: [{ apiGroups: [""], resources: ["services"], verbs: ["get"] }] } });
    const escalate = await api.rbac.createNamespacedRole({ namespace: ns, body: { metadata: { name: "more" }, rules: [{ apiGroups: [""], resources: ["services"], verbs: ["get", "patch"] }] } }).catch((e) => e);
    expect(escalate.code).toBe(403);
    expect(String(escalate.body)).toContain("is attempting to grant RBAC permissions not currently held");
  });
});
