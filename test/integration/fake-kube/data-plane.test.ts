import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { PassThrough } from "node:stream";
import { PortForward } from "@kubernetes/client-node";
import { testClients } from "../../support/fake-kube/client.ts";
import { type FakeCluster, startFakeCluster } from "../../support/fake-kube/index.ts";

/** Pods, the service proxy and port-forward of the fake cluster, driven by the real client. */

let cluster: FakeCluster;
let api: ReturnType<typeof testClients>;

beforeAll(async () => {
  cluster = await startFakeCluster();
  api = testClients(cluster);
});
afterAll(() => cluster.stop());

/** A fresh connection per request: the proxy, like kube-proxy, picks the pod per TCP connection. */
async function getJson(addr: string, path = "/"): Promise<any> {
  const r = await fetch(`http://${addr}${path}`, { headers: { connection: "close" }, keepalive: false });
  return r.json();
}

/** Resolves when a connection to addr is reset or closed without data (the proxy's "no endpoint" answer). */
function connectionRefusedOrReset(addr: string): Promise<string> {
  const [host, port] = addr.split(":");
  return new Promise((resolve) => {
    const s = net.connect({ host, port: Number(port) });
    let got = "";
    s.on("data", (d) => (got += d));
    s.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
    s.on("close", () => resolve(got ? "data" : "closed"));
  });
}

describe("application pods and the service proxy", () => {
  test("two pods may listen on the same port: each has its own loopback IP", async () => {
    const a = await cluster.addAppPod({ name: "same-a", labels: { app: "same" }, ports: [{ containerPort: 8080 }] });
    const b = await cluster.addAppPod({ name: "same-b", labels: { app: "same" }, ports: [{ containerPort: 8080 }] });
    expect(a.ip).not.toBe(b.ip);
    expect(a.ip).toMatch(/^127\.\d+\.\d+\.\d+$/);
    expect((await getJson(`${a.ip}:8080`)).pod).toBe("same-a");
    expect((await getJson(`${b.ip}:8080`)).pod).toBe("same-b");
    const pod = await api.core.readNamespacedPod({ namespace: "default", name: "same-a" });
    expect(pod.status?.phase).toBe("Running");
    expect(pod.status?.podIP).toBe(a.ip);
    expect(pod.status?.conditions?.find((c) => c.type === "Ready")?.status).toBe("True");
  });

  test("the proxy routes by the Service's current selector, per connection", async () => {
    await cluster.addAppPod({ name: "blue-1", labels: { app: "shop", color: "blue" }, ports: [{ name: "http", containerPort: 8080 }] });
    await cluster.addAppPod({ name: "green-1", labels: { app: "shop", color: "green" }, ports: [{ name: "web", containerPort: 9090 }] });
    await api.core.createNamespacedService({
      namespace: "default",
      body: { metadata: { name: "shop" }, spec: { selector: { app: "shop", color: "blue" }, ports: [{ name: "http", port: 80, targetPort: "http" }] } },
    });
    const addr = cluster.serviceAddress("default", "shop", "http");
    expect(cluster.serviceAddress("default", "shop", 80)).toBe(addr);
    expect((await getJson(addr, "/a")).pod).toBe("blue-1");

    // Swap the selector the way an intercept does (merge patch nulls the old key) and retarget the port.
    await api.core.patchNamespacedService({
      namespace: "default", name: "shop",
      body: [
        { op: "replace", path: "/spec/selector", value: { app: "shop", color: "green" } },
        { op: "replace", path: "/spec/ports/0/targetPort", value: "web" },
      ],
    });
    expect((await getJson(addr, "/b")).pod).toBe("green-1");
    const eps = await api.core.readNamespacedEndpoints({ namespace: "default", name: "shop" });
    expect(eps.subsets?.[0]?.addresses?.map((a) => a.targetRef?.name)).toEqual(["green-1"]);
    expect(eps.subsets?.[0]?.ports?.[0]?.port).toBe(9090);

    await api.core.patchNamespacedService({ namespace: "default", name: "shop", body: [{ op: "replace", path: "/spec/selector", value: { app: "nothing" } }] });
    expect(await connectionRefusedOrReset(addr)).not.toBe("data");
    const empty = await api.core.readNamespacedEndpoints({ namespace: "default", name: "shop" });
    expect(empty.subsets).toBeUndefined();
  });

  test("restartPod replaces the pod (new name and IP) and the Service follows it", async () => {
    const first = await cluster.addAppPod({ name: "api", labels: { app: "api" }, ports: [{ name: "http", containerPort: 7000 }] });
    await api.core.createNamespacedService({ namespace: "default", body: { metadata: { name: "api" }, spec: { selector: { app: "api" }, ports: [{ port: 7000 }] } } });
    const addr = cluster.serviceAddress("default", "api", 7000);
    expect((await getJson(addr)).pod).toBe("api");
    let downSeen = "";
    const next = await cluster.restartPod("api", {
      readyDelayMs: 200,
      onTerminated: () => void connectionRefusedOrReset(addr).then((r) => (downSeen = r)),
    });
    expect(next.name).toMatch(/^api-[a-z0-9]{5}$/);
    expect(next.ip).not.toBe(first.ip);
    expect(cluster.get("Pod", "default", "api")).toBeUndefined();
    expect((await getJson(addr)).pod).toBe(next.name);
    expect(downSeen).not.toBe("data");
  });
});

describe("port-forward (WebSocket v4.channel.k8s.io) through the real client", () => {
  test("1 MB each way arrives byte-exact through an echo pod", async () => {
    await cluster.addAppPod({ name: "echo", labels: { app: "echo" }, ports: [{ containerPort: 9000 }] }, { tcp: (s) => s.pipe(s) });
    const pf = new PortForward(api.kc);
    const input = new PassThrough();
    const output = new PassThrough();
    const errors: Buffer[] = [];
    const err = new PassThrough().on("data", (d) => errors.push(d));
    const ws = await pf.portForward("default", "echo", [9000], output, err, input);
    const payload = randomBytes(1024 * 1024);
    const received: Buffer[] = [];
    let total = 0;
    const done = new Promise<void>((resolve) => output.on("data", (d: Buffer) => {
      received.push(d);
      total += d.length;
      if (total >= payload.length) resolve();
    }));
    for (let i = 0; i < payload.length; i += 64 * 1024) input.write(payload.subarray(i, i + 64 * 1024));
    await done;
    expect(Buffer.concat(received).equals(payload)).toBe(true);
    expect(Buffer.concat(errors).length).toBe(0);
    (ws as any).close();
    expect(cluster.requests.some((r) => r.path === "/api/v1/namespaces/default/pods/echo/portforward" && r.user === "devx-test-user")).toBe(true);
  });

  test("a pod that sends 1 MB and closes: all bytes, then the socket closes", async () => {
    const blob = randomBytes(1024 * 1024);
    await cluster.addAppPod({ name: "sender", labels: { app: "sender" }, ports: [{ containerPort: 9001 }] }, { tcp: (s) => s.end(blob) });
    const pf = new PortForward(api.kc);
    const output = new PassThrough();
    const chunks: Buffer[] = [];
    output.on("data", (d) => chunks.push(d));
    const ws: any = await pf.portForward("default", "sender", [9001], output, null, new PassThrough());
    await new Promise<void>((resolve) => ws.addEventListener("close", () => resolve()));
    expect(Buffer.concat(chunks).equals(blob)).toBe(true);
  });

  test("a port nothing listens on: the error channel says so and the socket closes", async () => {
    const pf = new PortForward(api.kc);
    const errs: Buffer[] = [];
    const ws: any = await pf.portForward("default", "echo", [9999], new PassThrough(), new PassThrough().on("data", (d) => errs.push(d)), new PassThrough());
    await new Promise<void>((resolve) => ws.addEventListener("close", () => resolve()));
    expect(Buffer.concat(errs).toString()).toContain("error forwarding port 9999 to pod echo");
  });

  test("dropPortForwards cuts open forwards like a network loss; a new forward works", async () => {
    const pf = new PortForward(api.kc);
    const ws: any = await pf.portForward("default", "echo", [9000], new PassThrough(), null, new PassThrough());
    const closed = new Promise<void>((resolve) => ws.addEventListener("close", () => resolve()));
    expect(cluster.dropPortForwards()).toBe(1);
    await closed;
    const out = new PassThrough();
    const input = new PassThrough();
    const again: any = await pf.portForward("default", "echo", [9000], out, null, input);
    const echoed = new Promise<string>((resolve) => out.once("data", (d) => resolve(String(d))));
    input.write("ping");
    expect(await echoed).toBe("ping");
    again.close();
  });

  test("port-forward to a missing pod fails the upgrade", async () => {
    const pf = new PortForward(api.kc);
    await expect(pf.portForward("default", "ghost", [80], new PassThrough(), null, new PassThrough())).rejects.toBeDefined();
  });
});
