import { afterAll, describe, expect, test } from "bun:test";
import YAML from "yaml";
import { echoPod, type FakeCluster } from "../../support/fake-kube/index.ts";
import { TEST_USER } from "../../support/fake-kube/certs.ts";
import { bridgeCluster, createService, devxLeftovers, freePort, hostApp, viaService } from "./harness.ts";
import { loadKube, type KubeClient } from "../../../providers/kube/client.ts";
import { kubeBridge } from "../../../providers/kube/bridge.ts";
import { openPortForward } from "../../../providers/kube/port-forward.ts";
import { runIntercept } from "../../../src/core/bridge/intercept.ts";
import { rbacYaml } from "../../../src/core/bridge/rbac.ts";
import { bridgeStatus, findOrphans, removeOrphan } from "../../../src/core/bridge/status.ts";
import { PermissionError } from "../../../src/errors.ts";

/**
 * Under exactly the RBAC `devx bridge rbac` prints, enforced as Kubernetes 1.34 and 1.35 enforce it
 * (a WebSocket port-forward needs `get` on pods/portforward, and from 1.35 `create` as well; creating
 * the agent's Role needs holding what it grants): intercept, status and cleanup all work.
 */
const clusters: FakeCluster[] = [];
afterAll(async () => {
  for (const c of clusters) await c.stop();
});

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[] };

/** The printed Role and RoleBinding, applied by an administrator; `edit` changes the rules first. */
async function applyRbac(cluster: FakeCluster, edit: (rules: Rule[]) => Rule[] = (r) => r) {
  const admin = loadKube({ kubeconfig: cluster.adminKubeconfigPath });
  const [role, binding] = YAML.parseAllDocuments(rbacYaml(cluster.namespace, { kind: "User", name: TEST_USER })).map((d) => d.toJS());
  const existing = await admin.rbac.readNamespacedRole({ name: "devx-bridge", namespace: cluster.namespace }).catch(() => undefined);
  if (existing) await admin.rbac.deleteNamespacedRole({ name: "devx-bridge", namespace: cluster.namespace });
  await admin.rbac.createNamespacedRole({ namespace: cluster.namespace, body: { ...role, rules: edit(role.rules) } });
  if (!existing) await admin.rbac.createNamespacedRoleBinding({ namespace: cluster.namespace, body: binding });
}

const without = (resource: string, verb: string) => (rules: Rule[]) => rules.map((r) => (r.resources.includes(resource) ? { ...r, verbs: r.verbs.filter((v) => v !== verb) } : r));

for (const version of ["1.34", "1.35"]) {
  describe(`Kubernetes ${version}, the test user bound to the printed Role only`, () => {
    let cluster: FakeCluster;
    let kube: KubeClient;
    let deps: Awaited<ReturnType<typeof bridgeCluster>>["deps"];

    test("intercept, status, orphan cleanup and disconnect all succeed; nothing is left", async () => {
      ({ cluster, kube, deps } = await bridgeCluster({ version }));
      clusters.push(cluster);
      await cluster.addAppPod({ name: "web-1", labels: { app: "web" }, ports: [{ name: "http", containerPort: 8080 }] }, echoPod);
      await createService(kube, "web", { app: "web" }, [{ name: "http", port: 80, targetPort: 8080 }]);
      await applyRbac(cluster);
      cluster.enforceRbac();

      const app = hostApp("laptop", await freePort());
      const h = await runIntercept(deps, { service: "web", ports: [`http:${app.port}`], graceMs: 3000, mirror: true });
      try {
        await fetch(`http://${cluster.serviceAddress(cluster.namespace, "web", "http")}/`, { headers: { connection: "close" } });
        const s = await bridgeStatus(deps, { orphans: true, kube: kubeBridge(kube) });
        expect(s.orphanError).toBeUndefined();
        expect(s.intercepts.map((i) => i.agentPhase)).toEqual(["Running"]);
      } finally {
        await h.stop();
        app.stop(true);
      }
      expect(devxLeftovers(cluster)).toEqual([]);

      // an agent that hit its lifetime cap leaves its objects: found and removed under the same Role
      const dead = await runIntercept(deps, { service: "web", maxLifetimeSeconds: 2 });
      await cluster.waitFor("Job", cluster.namespace, `devx-agent-${dead.session}`, (j) => !!j?.status?.conditions?.some((c: { type: string }) => c.type === "Failed"), 15_000);
      const orphans = (await findOrphans(kubeBridge(kube))).filter((o) => o.session === dead.session);
      expect(orphans).toHaveLength(1);
      await removeOrphan(kubeBridge(kube), orphans[0]!);
      await dead.stop();
      expect(devxLeftovers(cluster)).toEqual([]);
      expect((await viaService(cluster, "web", "http")).pod).toBe("web-1");
      // the fake enforced the Role: a cluster-wide list was refused on the way (findOrphans fell back to the namespace)
      expect(cluster.requests.some((r) => r.status === 403 && r.path === "/apis/batch/v1/jobs")).toBe(true);
    }, 90_000);

    test(`a Role without get on pods/portforward: the preflight names it and creates nothing`, async () => {
      await applyRbac(cluster, without("pods/portforward", "get"));
      const before = cluster.events.length;
      const err = await runIntercept(deps, { service: "web" }).catch((e) => e);
      expect(err).toBeInstanceOf(PermissionError);
      expect(err.message).toContain("get pods/portforward");
      expect(cluster.events.slice(before)).toEqual([]);
    }, 30_000);

    test(`port-forward with get alone is ${version === "1.35" ? "refused (1.35 also checks create)" : "allowed (before 1.35 only get is checked)"}`, async () => {
      await applyRbac(cluster, without("pods/portforward", "create"));
      const pf = openPortForward(kube, cluster.namespace, "web-1", 8080).then((s) => (s.destroy(), "open"), (e: Error) => e.message);
      if (version === "1.35") expect(await pf).toContain("403");
      else expect(await pf).toBe("open");
      await applyRbac(cluster);
    }, 30_000);
  });
}
