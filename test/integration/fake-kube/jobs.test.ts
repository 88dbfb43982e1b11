import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import net from "node:net";
import { join } from "node:path";
import type { V1Job } from "@kubernetes/client-node";
import { testClients } from "../../support/fake-kube/client.ts";
import { type FakeCluster, type KubeObject, startFakeCluster } from "../../support/fake-kube/index.ts";

/** Jobs run as local processes: scheduling, env, phases, deadlines, TTL, propagation, SA tokens + RBAC. */

let cluster: FakeCluster;
let api: ReturnType<typeof testClients>;
const ns = "default";
const AGENT_SCRIPT = join(import.meta.dir, "fixtures", "agent-probe.ts");

beforeAll(async () => {
  cluster = await startFakeCluster({ images: { "busybox:1": "/bin/sh", "probe:1": process.execPath } });
  api = testClients(cluster);
});
afterAll(() => cluster.stop());

const fieldEnv = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { fieldPath } } });

function shJob(name: string, script: string, spec: Partial<V1Job["spec"]> = {}): V1Job {
  return {
    metadata: { name, labels: { "devx.managed": "true" } },
    spec: {
      backoffLimit: 0,
      ...spec,
      template: {
        metadata: { labels: { role: name } },
        spec: {
          restartPolicy: "Never",
          containers: [{ name: "main", image: "busybox:1", command: ["sh", "-c", script], env: [fieldEnv("POD_IP", "status.podIP"), fieldEnv("POD_NAME", "metadata.name"), { name: "GREETING", value: "hi" }] }],
        },
      },
    },
  };
}

const jobPods = (job: string) => cluster.objects("Pod", ns).filter((p) => p.metadata.labels?.["job-name"] === job);
const condition = (j: KubeObject | undefined, type: string) => j?.status?.conditions?.find((c: any) => c.type === type && c.status === "True");

function listening(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: ip, port });
    s.once("connect", () => { s.destroy(); resolve(true); });
    s.once("error", () => resolve(false));
  });
}

describe("Jobs", () => {
  test("a script Job: pod named <job>-xxxxx with job labels and owner, env resolved, Succeeded, Job Complete", async () => {
    const created = await api.batch.createNamespacedJob({ namespace: ns, body: shJob("hello", 'echo "$GREETING $POD_NAME $POD_IP"') });
    const job = await cluster.waitFor("Job", ns, "hello", (j) => !!condition(j, "Complete"));
    expect(job!.status.succeeded).toBe(1);
    expect(job!.status.completionTime).toBeTruthy();
    const [pod] = jobPods("hello");
    expect(pod!.metadata.name).toMatch(/^hello-[a-z0-9]{5}$/);
    expect(pod!.metadata.labels).toMatchObject({ role: "hello", "job-name": "hello", "controller-uid": created.metadata!.uid });
    expect(pod!.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: "Job", name: "hello", uid: created.metadata!.uid, controller: true })]);
    expect(pod!.status.phase).toBe("Succeeded");
    expect(pod!.status.containerStatuses[0].state.terminated.exitCode).toBe(0);
    expect(cluster.podLogs(ns, pod!.metadata.name)).toBe(`hi ${pod!.metadata.name} ${pod!.status.podIP}\n`);
    const viaRest = await api.core.readNamespacedPodLog({ namespace: ns, name: pod!.metadata.name });
    expect(viaRest).toContain("hi ");
  });

  test("failures are retried up to backoffLimit, then the Job is Failed (BackoffLimitExceeded)", async () => {
    await api.batch.createNamespacedJob({ namespace: ns, body: shJob("flaky", "exit 3", { backoffLimit: 1 }) });
    const job = await cluster.waitFor("Job", ns, "flaky", (j) => !!condition(j, "Failed"));
    expect(condition(job, "Failed").reason).toBe("BackoffLimitExceeded");
    expect(job!.status.failed).toBe(2);
    expect(jobPods("flaky").map((p) => p.status.containerStatuses[0].state.terminated.exitCode)).toEqual([3, 3]);
  });

  test("activeDeadlineSeconds kills the running process and fails the Job (DeadlineExceeded)", async () => {
    await api.batch.createNamespacedJob({ namespace: ns, body: shJob("slow", "echo started; exec sleep 30", { activeDeadlineSeconds: 1 }) });
    const job = await cluster.waitFor("Job", ns, "slow", (j) => !!condition(j, "Failed"), 15_000);
    expect(condition(job, "Failed").reason).toBe("DeadlineExceeded");
    expect(job!.status.active).toBe(0);
  });

  test("ttlSecondsAfterFinished deletes the Job and its pods", async () => {
    await api.batch.createNamespacedJob({ namespace: ns, body: shJob("short-lived", "true", { ttlSecondsAfterFinished: 0 }) });
    // With a TTL of 0 the Job may already be gone when this line runs: wait for the absence.
    await cluster.waitFor("Job", ns, "short-lived", (j) => !j);
    expect(jobPods("short-lived")).toEqual([]);
    const seen = cluster.events.filter((e) => e.name.startsWith("short-lived")).map((e) => `${e.type} ${e.kind}`);
    expect(seen).toContain("DELETED Pod");
    expect(seen.at(-1)).toMatch(/^DELETED /);
  });
});

describe("an agent-like Job with its own ServiceAccount and Role", () => {
  test("token auth + Role with resourceNames, readiness on POD_IP, service routed to it, Background delete SIGTERMs it", async () => {
    await api.core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name: "agent" } } });
    await api.rbac.createNamespacedRole({
      namespace: ns,
      body: { metadata: { name: "agent" }, rules: [{ apiGroups: [""], resources: ["services"], verbs: ["get", "patch"], resourceNames: ["target"] }] },
    });
    await api.rbac.createNamespacedRoleBinding({
      namespace: ns,
      body: { metadata: { name: "agent" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "agent" }, subjects: [{ kind: "ServiceAccount", name: "agent", namespace: ns }] },
    });
    for (const name of ["target", "other"]) {
      await api.core.createNamespacedService({ namespace: ns, body: { metadata: { name }, spec: { selector: { role: "agent-probe" }, ports: [{ name: "ctl", port: 4000, targetPort: "ctl" }] } } });
    }
    await api.batch.createNamespacedJob({
      namespace: ns,
      body: {
        metadata: { name: "agent-probe" },
        spec: {
          backoffLimit: 0,
          template: {
            metadata: { labels: { role: "agent-probe" } },
            spec: {
              restartPolicy: "Never",
              serviceAccountName: "agent",
              containers: [{
                name: "agent", image: "probe:1", command: ["bun", AGENT_SCRIPT],
                ports: [{ name: "ctl", containerPort: 4000 }],
                readinessProbe: { tcpSocket: { port: "ctl" } },
                env: [fieldEnv("POD_IP", "status.podIP"), fieldEnv("POD_NAME", "metadata.name"), fieldEnv("POD_NAMESPACE", "metadata.namespace")],
              }],
            },
          },
        },
      },
    });
    const podName = await new Promise<string>((resolve) => {
      const off = setInterval(() => { const p = jobPods("agent-probe")[0]; if (p) { clearInterval(off); resolve(p.metadata.name); } }, 10);
    });
    const pod = await cluster.waitFor("Pod", ns, podName, (p) => p?.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True"), 15_000);
    await cluster.waitFor("Service", ns, "target", (s) => s?.metadata.annotations?.["devx.io/touched"] === "yes");
    const r = await fetch(`http://${cluster.serviceAddress(ns, "target", "ctl")}/`, { headers: { connection: "close" } });
    expect(await r.text()).toBe(`agent ${podName}`);
    expect((await cluster.waitFor("Job", ns, "agent-probe", (j) => j?.status?.ready === 1))!.status.active).toBe(1);

    const until = async (re: RegExp) => { while (!re.test(cluster.podLogs(ns, podName))) await new Promise((res) => setTimeout(res, 20)); };
    await until(/RESULT env/);
    const logs = cluster.podLogs(ns, podName);
    expect(logs).toContain("RESULT patch-own 200");
    expect(logs).toContain("RESULT patch-other 403");
    expect(logs).toContain("RESULT list-pods 403");
    expect(logs).toContain(`RESULT env ${podName} ${pod!.status.podIP} ${ns}`);
    expect(cluster.get("Service", ns, "other")?.metadata.annotations?.["devx.io/touched"]).toBeUndefined();

    await api.batch.deleteNamespacedJob({ namespace: ns, name: "agent-probe", propagationPolicy: "Background" });
    await cluster.waitFor("Pod", ns, podName, (p) => !p, 10_000);
    expect(cluster.get("Job", ns, "agent-probe")).toBeUndefined();
    expect(await listening(pod!.status.podIP, 4000)).toBe(false);
  });

  test("Foreground delete: the Job stays (deletionTimestamp, foregroundDeletion) until its pod is gone", async () => {
    // The pod ignores SIGTERM, so it lives until SIGKILL at the end of its 1 s grace period.
    const body = shJob("fg", "trap '' TERM; while true; do sleep 0.05; done");
    body.spec!.template.spec!.terminationGracePeriodSeconds = 1;
    await api.batch.createNamespacedJob({ namespace: ns, body });
    await cluster.waitFor("Job", ns, "fg", (j) => j?.status?.active === 1 && jobPods("fg")[0]?.status?.phase === "Running");
    const podName = jobPods("fg")[0]!.metadata.name;
    const order: string[] = [];
    const podGone = cluster.waitFor("Pod", ns, podName, (p) => !p).then(() => order.push("pod gone"));
    const jobGone = cluster.waitFor("Job", ns, "fg", (j) => !j).then(() => order.push("job gone"));
    await api.batch.deleteNamespacedJob({ namespace: ns, name: "fg", propagationPolicy: "Foreground" });
    const marked = cluster.get("Job", ns, "fg");
    expect(marked?.metadata.deletionTimestamp).toBeTruthy();
    expect(marked?.metadata.finalizers).toContain("foregroundDeletion");
    expect(cluster.get("Pod", ns, podName)?.metadata.deletionTimestamp).toBeTruthy();
    await Promise.all([podGone, jobGone]);
    expect(order).toEqual(["pod gone", "job gone"]);
  });

  test("without propagationPolicy a Job delete orphans its pods, as upstream batch/v1 does", async () => {
    await api.batch.createNamespacedJob({ namespace: ns, body: shJob("orphaner", "exec sleep 30") });
    const podName = await new Promise<string>((resolve) => {
      const t = setInterval(() => { const p = jobPods("orphaner")[0]; if (p?.status?.phase === "Running") { clearInterval(t); resolve(p.metadata.name); } }, 10);
    });
    await api.batch.deleteNamespacedJob({ namespace: ns, name: "orphaner" });
    const pod = cluster.get("Pod", ns, podName);
    expect(pod?.status.phase).toBe("Running");
    expect(pod?.metadata.ownerReferences).toBeUndefined();
    await cluster.deletePod(podName);
  });
});
