import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { echoPod, type FakeCluster } from "../../support/fake-kube/index.ts";
import { AGENT_IMAGE, bridgeCluster, createService, viaService } from "./harness.ts";
import type { KubeClient } from "../../../providers/kube/client.ts";
import { kubeBridge } from "../../../providers/kube/bridge.ts";
import { agentRules } from "../../../src/core/bridge/agent-spec.ts";
import { swapSelector } from "../../../providers/kube/intercept-selector.ts";

/**
 * How the agent is started: the Job argv devx writes (`devx bridge-agent …`), the argv of Jobs that
 * older devx versions wrote (`devx agent …`, no tunnel secret), and a pod without a token.
 */
let cluster: FakeCluster;
let kube: KubeClient;

beforeAll(async () => {
  ({ cluster, kube } = await bridgeCluster());
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});

/** A Job as `devx bridge intercept` made them, with the given argv and pod spec changes. */
async function agentJob(session: string, service: string, args: string[], podSpec: Record<string, unknown> = {}) {
  const ns = cluster.namespace;
  const name = `devx-agent-${session}`;
  const labels = { "devx.managed": "true", "devx.kind": "agent", "devx.session": session };
  await kube.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name, labels } } });
  await kube.rbac.createNamespacedRole({ namespace: ns, body: { metadata: { name, labels }, rules: agentRules(service, false, name) } });
  await kube.rbac.createNamespacedRoleBinding({ namespace: ns, body: { metadata: { name, labels }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name }, subjects: [{ kind: "ServiceAccount", name, namespace: ns }] } });
  await kube.batch.createNamespacedJob({
    namespace: ns,
    body: {
      metadata: { name, labels },
      spec: {
        backoffLimit: 0,
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: name,
            restartPolicy: "Never",
            securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532 },
            containers: [{ name: "agent", image: AGENT_IMAGE, command: ["/usr/local/bin/devx"], args, env: [{ name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } }] }],
            ...podSpec,
          },
        },
      },
    },
  });
  return name;
}

const finished = (name: string) => cluster.waitFor("Job", cluster.namespace, name, (j) => !!j?.status?.succeeded || !!j?.status?.failed, 20_000);
const podOf = (job: string) => cluster.objects("Pod").find((p) => p.metadata.labels?.["job-name"] === job)!;

describe("agent argv", () => {
  test("`devx agent …` as Jobs of older versions run it (no secret): the agent still restores the Service after the grace period, exits 0", async () => {
    await cluster.addAppPod({ name: "old-1", labels: { app: "old" }, ports: [{ name: "http", containerPort: 8080 }] }, echoPod);
    await createService(kube, "old", { app: "old" }, [{ name: "http", port: 80, targetPort: 8080 }]);
    const session = "0dd5e551";
    const svc = await kube.core.readNamespacedService({ name: "old", namespace: cluster.namespace });
    await swapSelector(kubeBridge(kube), svc, { "devx.kind": "agent", "devx.session": session }, { session, originalSelector: { app: "old" }, ports: [], since: new Date().toISOString() });
    const job = await agentJob(session, "old", ["agent", "--namespace", cluster.namespace, "--service", "old", "--session", session, "--control-port", "4000", "--grace", "1000ms", "--ports", "http:8080"]);
    const done = await finished(job);
    expect(done!.status.succeeded).toBe(1);
    const logs = cluster.podLogs(cluster.namespace, podOf(job).metadata.name);
    expect(logs).toContain("no tunnel secret");
    expect(logs).toContain("restored default/old");
    expect(cluster.get("Service", cluster.namespace, "old")!.spec.selector).toEqual({ app: "old" });
    expect((await viaService(cluster, "old", "http")).pod).toBe("old-1");
  }, 60_000);

  test("an agent pod without a ServiceAccount token says so (permission, exit 6), not \"a bug in devx\"", async () => {
    await createService(kube, "notoken", { app: "notoken" }, [{ name: "http", port: 80, targetPort: 8080 }]);
    const session = "70cea115";
    const job = await agentJob(session, "notoken", ["bridge-agent", "--service", "notoken", "--session", session, "--control-port", "23000", "--grace", "1000ms", "--ports", "http:8080"], { automountServiceAccountToken: false });
    const done = await finished(job);
    expect(done!.status.failed).toBe(1);
    const pod = podOf(job);
    expect(pod.status.containerStatuses[0].state.terminated.exitCode).toBe(6);
    const logs = cluster.podLogs(cluster.namespace, pod.metadata.name);
    expect(logs).toContain("the agent has no ServiceAccount token");
    expect(logs).toContain("automountServiceAccountToken");
    expect(logs).not.toContain("bug");
  }, 60_000);
});
