import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { echoPod, type FakeCluster } from "../../support/fake-kube/index.ts";
import { AGENT_IMAGE, bridgeCluster, createService, devxLeftovers, freePort, hostApp, viaService } from "./harness.ts";
import type { KubeClient } from "../../../providers/kube/client.ts";
import { pidAlive } from "../../../src/platform/atomic.ts";

/** The compiled binary as the user runs it: foreground intercept killed with SIGKILL, detach/status/disconnect. */
let cluster: FakeCluster;
let kube: KubeClient;
let binary: string;

beforeAll(async () => {
  ({ cluster, kube, binary } = await bridgeCluster());
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});

function devx(args: string[], home: string) {
  return Bun.spawn([binary, ...args], {
    env: { ...process.env, KUBECONFIG: cluster.kubeconfigPath, DEVX_AGENT_IMAGE: AGENT_IMAGE, DEVX_HOME: home, NO_COLOR: "1" },
    stdout: "pipe",
    stderr: "pipe",
  });
}

/** The first JSON line on stdout carrying `key` (--json also streams step events as JSON lines). */
async function jsonLineWith(stream: ReadableStream<Uint8Array>, key: string): Promise<Record<string, unknown>> {
  const reader = stream.getReader();
  let text = "";
  for (;;) {
    const lines = text.split("\n");
    for (const l of lines.slice(0, -1)) {
      const o = JSON.parse(l) as Record<string, unknown>;
      if (key in o) return reader.releaseLock(), o;
    }
    const { value, done } = await reader.read();
    if (done) throw new Error(`stdout ended without a line carrying ${key}: ${text}`);
    text += new TextDecoder().decode(value);
  }
}

describe("bridge through the compiled binary", () => {
  test("CLI killed with SIGKILL: the agent restores the selector itself within the grace period, deletes its ServiceAccount, exits 0, and the rest goes with its Job", async () => {
    await cluster.addAppPod({ name: "kill-1", labels: { app: "kill" }, ports: [{ name: "http", containerPort: 8080 }] }, echoPod);
    await createService(kube, "kill", { app: "kill" }, [{ name: "http", port: 80, targetPort: 8080 }]);
    const app = hostApp("laptop", await freePort());
    const home = mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "home-"));
    const p = devx(["bridge", "intercept", "kill", "--port", `http:${app.port}`, "--grace", "2s", "--json"], home);
    try {
      const ready = (await jsonLineWith(p.stdout, "session")) as { session: string };
      expect((await viaService(cluster, "kill", "http")).from).toBe("laptop");
      p.kill("SIGKILL");
      const killedAt = Date.now();
      await cluster.waitFor("Service", cluster.namespace, "kill", (s) => s?.spec.selector.app === "kill" && !s.metadata.annotations?.["devx.io/intercept"], 10_000);
      const healedAfter = Date.now() - killedAt;
      expect(healedAfter).toBeGreaterThanOrEqual(1500);
      expect(healedAfter).toBeLessThan(2000 + 2500);
      expect((await viaService(cluster, "kill", "http")).pod).toBe("kill-1");
      const job = await cluster.waitFor("Job", cluster.namespace, `devx-agent-${ready.session}`, (j) => !!j?.status?.succeeded, 10_000);
      expect(job!.status.succeeded).toBe(1);
      // it left only what the Job's TTL reaps: its ServiceAccount is gone, the Role and RoleBinding
      // belong to the Job; deleting the Job as ttlSecondsAfterFinished would takes them with it
      const name = `devx-agent-${ready.session}`;
      expect(cluster.get("ServiceAccount", cluster.namespace, name)).toBeUndefined();
      for (const kind of ["Role", "RoleBinding"]) expect(cluster.get(kind, cluster.namespace, name)?.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: "Job", name, uid: job!.metadata.uid })]);
      await kube.batch.deleteNamespacedJob({ name, namespace: cluster.namespace, propagationPolicy: "Background" });
      for (const kind of ["Role", "RoleBinding", "Job"]) await cluster.waitFor(kind, cluster.namespace, name, (o) => !o, 10_000);
      expect(devxLeftovers(cluster)).toEqual([]);
      // the killed CLI's stale record still lets disconnect finish the session (nothing left to delete)
      const d = devx(["bridge", "disconnect", "--json"], home);
      expect(await d.exited).toBe(0);
      expect(JSON.parse(await new Response(d.stdout).text()).disconnected).toHaveLength(1);
      expect(devxLeftovers(cluster)).toEqual([]);
    } finally {
      p.kill("SIGKILL");
      app.stop(true);
    }
  }, 60_000);

  test("--detach records a session that status shows and disconnect ends, leaving nothing behind", async () => {
    await cluster.addAppPod({ name: "det-1", labels: { app: "det" }, ports: [{ name: "http", containerPort: 8080 }] }, echoPod);
    await createService(kube, "det", { app: "det" }, [{ name: "http", port: 80, targetPort: 8080 }]);
    const app = hostApp("laptop", await freePort());
    const home = mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "home-"));
    const run = async (args: string[]) => {
      const p = devx(args, home);
      const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      return { out, err, code };
    };
    const started = await run(["bridge", "intercept", "det", "--port", `http:${app.port}`, "--detach", "--json"]);
    expect(started.code).toBe(0);
    const { session, pid } = JSON.parse(started.out) as { session: string; pid: number };
    try {
      expect((await viaService(cluster, "det", "http")).from).toBe("laptop");
      const status = await run(["bridge", "status", "--json"]);
      const s = JSON.parse(status.out) as { intercepts: Array<{ session: string; alive: boolean; agentPhase: string; service: string }> };
      expect(s.intercepts).toEqual([expect.objectContaining({ session, alive: true, agentPhase: "Running", service: "det" })]);
      const d = await run(["bridge", "disconnect", "--json"]);
      expect(d.code).toBe(0);
      expect(JSON.parse(d.out).disconnected).toHaveLength(1);
      expect(pidAlive(pid)).toBe(false);
      expect((await viaService(cluster, "det", "http")).pod).toBe("det-1");
      expect(devxLeftovers(cluster)).toEqual([]);
      expect(JSON.parse((await run(["bridge", "status", "--json"])).out).intercepts).toEqual([]);
    } finally {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
      app.stop(true);
    }
  }, 60_000);

  test("a CLI that comes back within the grace period resumes the same intercept (same agent, same session)", async () => {
    await cluster.addAppPod({ name: "back-1", labels: { app: "back" }, ports: [{ name: "http", containerPort: 8080 }] }, echoPod);
    await createService(kube, "back", { app: "back" }, [{ name: "http", port: 80, targetPort: 8080 }]);
    const app = hostApp("laptop", await freePort());
    const home = mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "home-"));
    const args = ["bridge", "intercept", "back", "--port", `http:${app.port}`, "--grace", "10s", "--json"];
    const first = devx(args, home);
    const second = { p: undefined as ReturnType<typeof devx> | undefined };
    try {
      const a = (await jsonLineWith(first.stdout, "session")) as { session: string };
      first.kill("SIGKILL");
      await first.exited;
      second.p = devx(args, home);
      const b = (await jsonLineWith(second.p.stdout, "session")) as { session: string; phases: Record<string, number> };
      expect(b.session).toBe(a.session);
      expect(b.phases.resumed).toBe(1);
      expect((await viaService(cluster, "back", "http")).from).toBe("laptop");
      expect(cluster.objects("Job").filter((j) => j.metadata.labels?.["devx.session"] === a.session)).toHaveLength(1);
      second.p.kill("SIGTERM");
      expect(await second.p.exited).toBe(0);
      expect((await viaService(cluster, "back", "http")).pod).toBe("back-1");
      expect(devxLeftovers(cluster)).toEqual([]);
    } finally {
      first.kill("SIGKILL");
      second.p?.kill("SIGKILL");
      app.stop(true);
    }
  }, 60_000);

  test("connect --detach, `bridge env` export lines, disconnect clears them; denied verbs exit with the permission code", async () => {
    await cluster.addAppPod({ name: "cat-1", labels: { app: "catalog" }, ports: [{ name: "http", containerPort: 8080 }] }, echoPod);
    await createService(kube, "catalog-api", { app: "catalog" }, [{ name: "http", port: 80, targetPort: 8080 }]);
    const home = mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "home-"));
    const run = async (args: string[]) => {
      const p = devx(args, home);
      const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      return { out, err, code };
    };
    const port = await freePort();
    const c = await run(["bridge", "connect", "-t", `catalog-api:http:${port}`, "--detach", "--json"]);
    expect(c.code).toBe(0);
    const { pid } = JSON.parse(c.out) as { pid: number };
    try {
      const env = await run(["bridge", "env"]);
      expect(env.out).toBe(`export BRIDGE_CATALOG_API_HOST='127.0.0.1'\nexport BRIDGE_CATALOG_API_PORT='${port}'\nexport BRIDGE_CATALOG_API_URL='http://127.0.0.1:${port}'\n`);
      expect(((await (await fetch(`http://127.0.0.1:${port}/`)).json()) as { pod: string }).pod).toBe("cat-1");
      expect((await run(["bridge", "disconnect"])).code).toBe(0);
      expect(pidAlive(pid)).toBe(false);
      expect(JSON.parse((await run(["bridge", "env", "--json"])).out)).toEqual({});
    } finally {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    // foreground: the status table on stderr, stdout left clean; SIGTERM stops it with exit 0
    const fg = devx(["bridge", "connect", "-t", `catalog-api:http:${port}`], home);
    const reader = fg.stderr.getReader();
    let err = "";
    while (!/catalog-api:http\s+127\.0\.0\.1:\d+\s+cat-1\s+ready/.test(err)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`connect exited early: ${err}`);
      err += new TextDecoder().decode(value);
    }
    expect(err).toMatch(/SERVICE\s+HOST\s+POD\s+STATE/);
    fg.kill("SIGTERM");
    expect(await fg.exited).toBe(0);
    expect(await new Response(fg.stdout).text()).toBe("");
    cluster.denyVerbs([{ verb: "patch", group: "", resource: "services" }]);
    try {
      const denied = await run(["bridge", "intercept", "catalog-api"]);
      expect(denied.code).toBe(6); // permission, src/cli/exit-codes.ts
      expect(denied.err).toContain('patch services "catalog-api"');
      expect(denied.err).toContain("devx bridge rbac");
    } finally {
      cluster.allowAll();
    }
    expect(devxLeftovers(cluster)).toEqual([]);
  }, 60_000);
});
