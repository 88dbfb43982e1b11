import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { echoPod, type FakeCluster } from "../../support/fake-kube/index.ts";
import { bridgeCluster, createService, devxLeftovers, freePort, hostApp, viaService } from "./harness.ts";
import { runIntercept } from "../../../src/core/bridge/intercept.ts";
import type { KubeClient } from "../../../providers/kube/client.ts";
import { kubeBridge } from "../../../providers/kube/bridge.ts";
import { findOrphans, removeOrphan } from "../../../src/core/bridge/status.ts";
import { ConflictError, PermissionError, ProviderError } from "../../../src/errors.ts";
import { bridgeSettings } from "../../../src/core/bridge/settings.ts";
import { planIntercept, planSummary } from "../../../src/core/bridge/intercept.ts";

let cluster: FakeCluster;
let kube: KubeClient;
let deps: Awaited<ReturnType<typeof bridgeCluster>>["deps"];

beforeAll(async () => {
  ({ cluster, kube, deps } = await bridgeCluster());
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});

describe("intercept", () => {
  test("a two-port Service reaches two host ports during the intercept, the real pod before and after", async () => {
    await cluster.addAppPod({ name: "web-1", labels: { app: "web" }, ports: [{ name: "http", containerPort: 8080 }, { name: "admin", containerPort: 9090 }] }, echoPod);
    await createService(kube, "web", { app: "web" }, [{ name: "http", port: 80, targetPort: "http" }, { name: "admin", port: 9000, targetPort: 9090 }]);
    expect((await viaService(cluster, "web", "http")).pod).toBe("web-1");

    const [p1, p2] = [await freePort(), await freePort()];
    const app1 = hostApp("laptop-http", p1);
    const app2 = hostApp("laptop-admin", p2);
    const h = await runIntercept(deps, { service: "web", ports: [`http:${p1}`, `admin:${p2}`], graceMs: 5000 });
    try {
      expect((await viaService(cluster, "web", "http", "/a")).from).toBe("laptop-http");
      expect((await viaService(cluster, "web", "admin", "/b")).from).toBe("laptop-admin");
      const svc = cluster.get("Service", cluster.namespace, "web")!;
      expect(JSON.parse(svc.metadata.annotations!["devx.io/intercept"]!).originalSelector).toEqual({ app: "web" });
      expect(svc.spec.selector).toEqual({ "devx.kind": "agent", "devx.session": h.session });
      expect(h.stats()?.connections).toBeGreaterThanOrEqual(2);
    } finally {
      await h.stop();
      app1.stop(true);
      app2.stop(true);
    }
    expect((await viaService(cluster, "web", "http")).pod).toBe("web-1");
    expect(cluster.get("Service", cluster.namespace, "web")!.spec.selector).toEqual({ app: "web" });
    expect(devxLeftovers(cluster)).toEqual([]);
  }, 60_000);

  test("RBAC denial is reported, every missing verb at once, before anything is created", async () => {
    await cluster.addAppPod({ name: "rb-1", labels: { app: "rb" }, ports: [{ name: "http", containerPort: 8080 }] }, echoPod);
    await createService(kube, "rb", { app: "rb" }, [{ name: "http", port: 80, targetPort: 8080 }]);
    const before = cluster.events.length;
    cluster.denyVerbs([{ verb: "create", group: "batch", resource: "jobs" }, { verb: "create", group: "", resource: "pods/portforward" }]);
    try {
      const err = await runIntercept(deps, { service: "rb" }).catch((e) => e);
      expect(err).toBeInstanceOf(PermissionError);
      expect(err.message).toContain("create jobs.batch");
      expect(err.message).toContain("create pods/portforward");
      expect(err.hint).toContain("devx bridge rbac");
    } finally {
      cluster.allowAll();
    }
    expect(cluster.events.slice(before)).toEqual([]);
    expect(devxLeftovers(cluster)).toEqual([]);
  }, 30_000);

  test("a Service already intercepted is refused, naming the other session", async () => {
    await cluster.addAppPod({ name: "cf-1", labels: { app: "cf" }, ports: [{ name: "http", containerPort: 8080 }] }, echoPod);
    await createService(kube, "cf", { app: "cf" }, [{ name: "http", port: 80, targetPort: 8080 }]);
    const app = hostApp("laptop", await freePort());
    const h = await runIntercept(deps, { service: "cf", ports: [`http:${app.port}`] });
    try {
      const err = await runIntercept(deps, { service: "cf" }).catch((e) => e);
      expect(err).toBeInstanceOf(ConflictError);
      expect(err.message).toContain(h.session);
      expect((await viaService(cluster, "cf", "http")).from).toBe("laptop");
    } finally {
      await h.stop();
      app.stop(true);
    }
    expect(devxLeftovers(cluster)).toEqual([]);
  }, 60_000);

  test("mirror: the real pod answers, the host gets a copy of each request", async () => {
    await cluster.addAppPod({ name: "mr-1", labels: { app: "mr" }, ports: [{ name: "http", containerPort: 8080 }] }, echoPod);
    await createService(kube, "mr", { app: "mr" }, [{ name: "http", port: 80, targetPort: 8080 }]);
    const seen: string[] = [];
    let gotCopy!: () => void;
    const copied = new Promise<void>((r) => (gotCopy = r));
    const app = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: async (req) => (seen.push(`${req.method} ${new URL(req.url).pathname} ${await req.text()}`), gotCopy(), new Response("discarded")) });
    const h = await runIntercept(deps, { service: "mr", ports: [`http:${app.port}`], mirror: true });
    try {
      const r = await fetch(`http://${cluster.serviceAddress(cluster.namespace, "mr", "http")}/orders`, { method: "POST", body: "order-42", headers: { connection: "close" } });
      const body = (await r.json()) as { pod: string; body: string };
      expect(body.pod).toBe("mr-1");
      expect(body.body).toBe("order-42");
      await copied;
      expect(seen).toEqual(["POST /orders order-42"]);
      expect(h.stats()?.mirrored).toBe(1);
    } finally {
      await h.stop();
      app.stop(true);
    }
    expect(devxLeftovers(cluster)).toEqual([]);
  }, 60_000);

  test("a dropped tunnel reconnects within the grace period and the intercept continues", async () => {
    await cluster.addAppPod({ name: "rc-1", labels: { app: "rc" }, ports: [{ name: "http", containerPort: 8080 }] }, echoPod);
    await createService(kube, "rc", { app: "rc" }, [{ name: "http", port: 80, targetPort: 8080 }]);
    const app = hostApp("laptop", await freePort());
    const h = await runIntercept(deps, { service: "rc", ports: [`http:${app.port}`], graceMs: 3000 });
    try {
      expect((await viaService(cluster, "rc", "http")).from).toBe("laptop");
      const reconnected = new Promise<void>((resolve) => {
        const t = setInterval(() => {
          if (h.stats()!.reconnects > 0 && h.stats()!.up) (clearInterval(t), resolve());
        }, 20);
      });
      h.dropTunnel();
      await reconnected;
      expect((await viaService(cluster, "rc", "http")).from).toBe("laptop");
      // outlive the grace period: the agent must not have restored the Service meanwhile
      await Bun.sleep(3500);
      expect(cluster.get("Service", cluster.namespace, "rc")!.spec.selector["devx.session"]).toBe(h.session);
      expect((await viaService(cluster, "rc", "http")).from).toBe("laptop");
    } finally {
      await h.stop();
      app.stop(true);
    }
    expect((await viaService(cluster, "rc", "http")).pod).toBe("rc-1");
  }, 60_000);

  test("cleanup finds orphans by label (a finished agent's objects, a Service left pointing at a dead session) and leaves nothing", async () => {
    await cluster.addAppPod({ name: "or-1", labels: { app: "or" }, ports: [{ name: "http", containerPort: 8080 }] }, echoPod);
    await createService(kube, "or", { app: "or" }, [{ name: "http", port: 80, targetPort: 8080 }]);
    // an agent that hit its lifetime cap: it restored the Service on SIGTERM, but its objects remain
    const h = await runIntercept(deps, { service: "or", maxLifetimeSeconds: 3 });
    const job = `devx-agent-${h.session}`;
    await cluster.waitFor("Job", cluster.namespace, job, (j) => !!j?.status?.failed || !!j?.status?.conditions?.some((c: { type: string }) => c.type === "Failed"), 15_000);
    await cluster.waitFor("Service", cluster.namespace, "or", (s) => !s?.metadata.annotations?.["devx.io/intercept"], 10_000);
    // a Service whose agent died without restoring it (node lost): only the annotation knows the way back
    await createService(kube, "lost", { "devx.kind": "agent", "devx.session": "deadbeef" }, [{ name: "http", port: 80, targetPort: 8080 }], {});
    await kube.core.patchNamespacedService(
      { name: "lost", namespace: kube.namespace, body: { metadata: { annotations: { "devx.io/intercept": JSON.stringify({ session: "deadbeef", originalSelector: { app: "or" }, ports: [], since: "2026-01-01T00:00:00Z" }) } } } },
      (await import("@kubernetes/client-node")).setHeaderOptions("Content-Type", "application/merge-patch+json"),
    );
    const orphans = await findOrphans(kubeBridge(kube));
    const finished = orphans.find((o) => o.session === h.session)!;
    expect(finished.objects).toEqual(expect.arrayContaining([`Job/${job}`, `ServiceAccount/${job}`, `Role/${job}`, `RoleBinding/${job}`]));
    const lost = orphans.find((o) => o.session === "deadbeef")!;
    expect(lost.service).toBe("lost");
    for (const o of [finished, lost]) await removeOrphan(kubeBridge(kube), o);
    expect(cluster.get("Service", cluster.namespace, "lost")!.spec.selector).toEqual({ app: "or" });
    expect((await viaService(cluster, "lost", "http")).pod).toBe("or-1");
    await h.stop().catch(() => {});
    expect(devxLeftovers(cluster)).toEqual([]);
  }, 60_000);

  test("a targetPort equal to the old fixed control port (4000) and two Service ports sharing a targetPort both work", async () => {
    const seen: number[] = [];
    await cluster.addAppPod({ name: "sh-1", labels: { app: "sh" }, ports: [{ name: "http", containerPort: 8080 }, { name: "ctl", containerPort: 4000 }] }, echoPod);
    await createService(kube, "sh", { app: "sh" }, [{ name: "http", port: 80, targetPort: 8080 }, { name: "alt", port: 8081, targetPort: 8080 }, { name: "ctl", port: 4000, targetPort: 4000 }]);
    const [p1, p2] = [await freePort(), await freePort()];
    const a1 = Bun.serve({ hostname: "127.0.0.1", port: p1, fetch: () => (seen.push(p1), Response.json({ from: "laptop-http" })) });
    const a2 = Bun.serve({ hostname: "127.0.0.1", port: p2, fetch: () => (seen.push(p2), Response.json({ from: "laptop-4000" })) });
    const h = await runIntercept(deps, { service: "sh", ports: [`http:${p1}`, `ctl:${p2}`] });
    try {
      expect(h.record.controlPort).not.toBe(4000);
      expect((await viaService(cluster, "sh", "http")).from).toBe("laptop-http");
      expect((await viaService(cluster, "sh", "alt")).from).toBe("laptop-http");
      expect((await viaService(cluster, "sh", "ctl")).from).toBe("laptop-4000");
      expect(cluster.get("Pod", cluster.namespace, h.record.agentPod!)!.status.phase).toBe("Running");
    } finally {
      await h.stop();
      a1.stop(true);
      a2.stop(true);
    }
    expect(seen).toEqual([p1, p1, p2]);
    expect(devxLeftovers(cluster)).toEqual([]);
  }, 60_000);

  test("a project name of any length or shape still gives valid labels (the fake refuses invalid ones with 422)", async () => {
    await cluster.addAppPod({ name: "ln-1", labels: { app: "ln" }, ports: [{ name: "http", containerPort: 8080 }] }, echoPod);
    await createService(kube, "ln", { app: "ln" }, [{ name: "http", port: 80, targetPort: 8080 }]);
    const name = `${"a-very-long-project-name-".repeat(4)}for the shop (v2)`;
    const app = hostApp("laptop", await freePort());
    const h = await runIntercept({ ...deps, findConfig: async () => ({ config: { name } }) as never }, { service: "ln", ports: [`http:${app.port}`] });
    try {
      const label = cluster.get("Job", cluster.namespace, h.record.agent)!.metadata.labels!["devx.project"]!;
      expect(label.length).toBeLessThanOrEqual(63);
      expect(label.startsWith("a-very-long-project-name-")).toBe(true);
      expect((await viaService(cluster, "ln", "http")).from).toBe("laptop");
    } finally {
      await h.stop();
      app.stop(true);
    }
  }, 60_000);

  test("an agent image the cluster cannot pull is reported within seconds, with what to do, and nothing is left", async () => {
    await cluster.addAppPod({ name: "img-1", labels: { app: "img" }, ports: [{ name: "http", containerPort: 8080 }] }, echoPod);
    await createService(kube, "img", { app: "img" }, [{ name: "http", port: 80, targetPort: 8080 }]);
    const t0 = Date.now();
    const err = await runIntercept(deps, { service: "img", agentImage: "registry.example.com/team/devx-agent:0.0.0-missing" }).catch((e) => e);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.message).toContain("cannot pull the agent image registry.example.com/team/devx-agent:0.0.0-missing: ErrImagePull");
    expect(err.hint).toContain("bridge.agent_image");
    const local = await runIntercept(deps, { service: "img", agentImage: "localhost/devx-agent:0.0.0-missing" }).catch((e) => e);
    expect(local.hint).toContain("docs/bridge.md");
    expect(cluster.get("Service", cluster.namespace, "img")!.spec.selector).toEqual({ app: "img" });
    expect(devxLeftovers(cluster)).toEqual([]);
  }, 60_000);

  test("--dry-run prints the plan the real run executes: named target ports looked up, --port honoured, no secret", async () => {
    await cluster.addAppPod({ name: "dr-1", labels: { app: "dr" }, ports: [{ name: "web", containerPort: 8181 }] }, echoPod);
    await createService(kube, "dr", { app: "dr" }, [{ name: "http", port: 80, targetPort: "web" }]);
    const before = cluster.events.length;
    const plan = planSummary(await planIntercept(await bridgeSettings(deps), { service: "dr", ports: ["http:3999"] }));
    expect(cluster.events.slice(before)).toEqual([]);
    expect(plan.ports).toEqual([{ name: "http", servicePort: 80, agentPort: 8181, hostPort: 3999 }]);
    expect(plan.create.map((o) => o.kind)).toEqual(["ServiceAccount", "Secret", "Job", "Role", "RoleBinding", "NetworkPolicy"]);
    expect(JSON.stringify(plan)).toContain("made at run time");
  }, 30_000);
});

