import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { echoPod, type FakeCluster } from "../../support/fake-kube/index.ts";
import { AGENT_IMAGE, bridgeCluster, createService, devxLeftovers, viaService } from "../bridge/harness.ts";
import { main } from "../../../src/cli/main.ts";
import { memoryIO } from "../../../src/cli/io.ts";
import type { DevxEvent } from "../../../src/events/types.ts";
import { freePort, livingInGroups } from "./helpers.ts";

let cluster: FakeCluster;
let kubeconfig: string;
const dir = mkdtempSync(join(tmpdir(), "devx-up-bridge-"));

beforeAll(async () => {
  const b = await bridgeCluster();
  cluster = b.cluster;
  kubeconfig = cluster.kubeconfigPath;
  await cluster.addAppPod({ name: "api-1", labels: { app: "api" }, ports: [{ name: "http", containerPort: 8080 }] }, echoPod);
  await createService(b.kube, "api", { app: "api" }, [{ name: "http", port: 80, targetPort: "http" }]);
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("a bridge connect node (fake cluster): healthy when the forward is live, its URL reaches a dependent, torn down in reverse order", async () => {
  const local = await freePort();
  writeFileSync(
    join(dir, "devx.yaml"),
    [
      "name: upbridge",
      "services:",
      "  - name: api",
      "    runtime: bridge",
      `    bridge: { mode: connect, service: api, port: 80, local_port: ${local} }`,
      "  - name: web",
      `    command: echo "$API_URL" > ${dir}/web-env; exec sleep 300`,
      `    healthcheck: { exec: "test -s ${dir}/web-env" }`,
      "    depends_on: { api: { condition: service_healthy } }",
    ].join("\n"),
  );
  const ctl = new AbortController();
  const events: Array<{ at: number; e: DevxEvent }> = [];
  let viaForward: { pod?: string } | undefined;
  const emit = (e: DevxEvent) => {
    events.push({ at: performance.now(), e });
    if (e.type === "step" && e.id === "up" && e.status === "done") {
      void fetch(`http://127.0.0.1:${local}/`, { headers: { connection: "close" } })
        .then((r) => r.json())
        .then((j) => (viaForward = j as { pod?: string }))
        .finally(() => ctl.abort(new DOMException("cancelled", "AbortError")));
    }
  };
  const io = memoryIO();
  const code = await main(["up"], { io, emit, signal: ctl.signal, cwd: dir, env: { ...process.env, KUBECONFIG: kubeconfig } });
  expect(io.stderr()).toBe("");
  expect(code).toBe(130);
  expect(viaForward?.pod).toBe("api-1");
  expect(readFileSync(join(dir, "web-env"), "utf8")).toBe(`http://127.0.0.1:${local}\n`);
  const at = (node: string, state: string) => events.find((x) => x.e.type === "state" && x.e.node === node && x.e.state === state)?.at;
  expect(at("api", "healthy")).toBeLessThan(at("web", "starting")!);
  expect(at("web", "stopped")).toBeLessThanOrEqual(at("api", "stopping")!);
  // the forward is gone with the node
  const after = await fetch(`http://127.0.0.1:${local}/`).then(() => "open", () => "closed");
  expect(after).toBe("closed");
  const groups = new Set(events.flatMap((x) => (x.e.type === "state" && typeof x.e.detail?.pid === "number" ? [x.e.detail.pid as number] : [])));
  expect(livingInGroups(groups)).toEqual([]);
}, 60_000);

test("a bridge intercept node (fake cluster): the Service's traffic reaches the local app node while up runs, the real pod again after, nothing left behind", async () => {
  const local = await freePort();
  const app = `Bun.serve({ hostname: "127.0.0.1", port: ${local}, fetch: () => Response.json({ from: "laptop" }) })`;
  writeFileSync(
    join(dir, "devx.yaml"),
    [
      "name: upintercept",
      "services:",
      "  - name: api-local",
      `    command: ${JSON.stringify([process.execPath, "-e", app])}`,
      `    port: ${local}`,
      "    healthcheck: { tcp: true }",
      "  - name: api",
      "    runtime: bridge",
      `    bridge: { mode: intercept, service: api, port: 80, local_port: ${local} }`,
      "    depends_on: { api-local: { condition: service_healthy } }",
    ].join("\n"),
  );
  expect(await viaService(cluster, "api", 80)).toMatchObject({ pod: "api-1" });
  const ctl = new AbortController();
  const events: DevxEvent[] = [];
  let during: { from?: string; pod?: string } | undefined;
  const emit = (e: DevxEvent) => {
    events.push(e);
    if (e.type === "step" && e.id === "up" && e.status === "done") {
      void viaService(cluster, "api", 80)
        .then((j) => (during = j))
        .finally(() => ctl.abort(new DOMException("cancelled", "AbortError")));
    }
  };
  const io = memoryIO();
  const code = await main(["up"], { io, emit, signal: ctl.signal, cwd: dir, env: { ...process.env, KUBECONFIG: kubeconfig, DEVX_AGENT_IMAGE: AGENT_IMAGE } });
  expect(io.stderr()).toBe("");
  expect(code).toBe(130);
  expect(during).toEqual({ from: "laptop" });
  // teardown restored the selector and removed the agent
  expect(await viaService(cluster, "api", 80)).toMatchObject({ pod: "api-1" });
  expect(devxLeftovers(cluster)).toEqual([]);
  const order = events.flatMap((e) => (e.type === "state" && e.state === "stopped" ? [e.node] : []));
  expect(order).toEqual(["api", "api-local"]);
}, 90_000);
