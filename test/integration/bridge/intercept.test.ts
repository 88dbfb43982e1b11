import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { echoPod, type FakeCluster } from "../../support/fake-kube/index.ts";
import { bridgeCluster, createService, devxLeftovers, freePort, hostApp, viaService } from "./harness.ts";
import { runIntercept } from "../../../src/core/bridge/intercept.ts";
import type { KubeClient } from "../../../providers/kube/client.ts";

let cluster: FakeCluster;
let kube: KubeClient;
let deps: Awaited<ReturnType<typeof bridgeCluster>>["deps"];

beforeAll(async () => {
  ({ cluster, kube, deps } = await bridgeCluster());
});
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
});
