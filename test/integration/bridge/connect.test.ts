import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer } from "node:net";
import { echoPod, type FakeCluster } from "../../support/fake-kube/index.ts";
import { bridgeCluster, createService, freePort } from "./harness.ts";
import { parseTarget, runConnect } from "../../../src/core/bridge/connect.ts";
import { readBridgeEnv } from "../../../src/core/bridge/env.ts";
import { ConflictError } from "../../../src/errors.ts";
import type { KubeClient } from "../../../providers/kube/client.ts";

let cluster: FakeCluster;
let kube: KubeClient;
let deps: Awaited<ReturnType<typeof bridgeCluster>>["deps"];

beforeAll(async () => {
  ({ cluster, kube, deps } = await bridgeCluster());
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});

const get = async (port: number) => (await (await fetch(`http://127.0.0.1:${port}/`, { headers: { connection: "close" } })).json()) as { pod: string };

describe("connect", () => {
  test("forwards a Service, writes BRIDGE_ env, and follows a pod restart within 5 s of the new pod being ready", async () => {
    await cluster.addAppPod({ name: "api-1", labels: { app: "api" }, ports: [{ name: "http", containerPort: 8080 }] }, echoPod);
    await createService(kube, "api", { app: "api" }, [{ name: "http", port: 80, targetPort: "http" }]);
    const local = await freePort();
    const h = await runConnect(deps, [parseTarget(`api:http:${local}`)]);
    try {
      expect((await get(local)).pod).toBe("api-1");
      expect(await readBridgeEnv(deps)).toEqual({ BRIDGE_API_HOST: "127.0.0.1", BRIDGE_API_PORT: String(local), BRIDGE_API_URL: `http://127.0.0.1:${local}` });

      const switched = deps.nextEvent((e) => e.type === "state" && e.node === "bridge/api" && e.state === "ready");
      const replacement = await cluster.restartPod("api-1");
      const readyAt = Date.now();
      const ev = await switched;
      expect(Date.now() - readyAt).toBeLessThan(5000);
      expect((ev as { detail?: { pod?: string } }).detail?.pod).toBe(replacement.name);
      expect(deps.events.some((e) => e.type === "warning" && e.message.includes("pod api-1 is gone"))).toBe(true);
      expect((await get(local)).pod).toBe(replacement.name);
      expect(deps.events.some((e) => e.type === "info" && e.message.includes(`→ pod ${replacement.name} (was api-1)`))).toBe(true);
      expect(h.forwards[0]!.connections).toBe(2);
    } finally {
      await h.stop();
    }
    expect(await readBridgeEnv(deps)).toEqual({});
  }, 60_000);

  test("re-dialling follows a changed selector: the Service's pod is gone and it now selects others", async () => {
    await cluster.addAppPod({ name: "blue-1", labels: { app: "cat", track: "blue" }, ports: [{ name: "http", containerPort: 8080 }] }, echoPod);
    await cluster.addAppPod({ name: "green-1", labels: { app: "cat", track: "green" }, ports: [{ name: "http", containerPort: 8080 }] }, echoPod);
    await createService(kube, "cat", { app: "cat", track: "blue" }, [{ name: "http", port: 80, targetPort: "http" }]);
    const local = await freePort();
    const h = await runConnect(deps, [parseTarget(`cat:http:${local}`)]);
    try {
      expect((await get(local)).pod).toBe("blue-1");
      // a blue/green switch, then the old pod goes away
      await kube.core.patchNamespacedService(
        { name: "cat", namespace: kube.namespace, body: { spec: { selector: { app: "cat", track: "green" } } } },
        (await import("@kubernetes/client-node")).setHeaderOptions("Content-Type", "application/merge-patch+json"),
      );
      const followed = deps.nextEvent((e) => e.type === "state" && e.node === "bridge/cat" && e.state === "ready");
      await cluster.deletePod("blue-1");
      const ev = await followed;
      expect((ev as { detail?: { pod?: string } }).detail?.pod).toBe("green-1");
      expect(deps.events.some((e) => e.type === "info" && e.message.includes("now selects app=cat,track=green"))).toBe(true);
      expect((await get(local)).pod).toBe("green-1");
    } finally {
      await h.stop();
    }
  }, 60_000);

  test("a busy host port is a conflict naming it; --auto-port shifts it and says so", async () => {
    await cluster.addAppPod({ name: "db-1", labels: { app: "db" }, ports: [{ name: "pg", containerPort: 5432 }] }, { tcp: (s) => s.end("hello from db-1\n") });
    await createService(kube, "db", { app: "db" }, [{ name: "pg", port: 5432, targetPort: 5432 }]);
    const busy = createServer();
    const port = await freePort();
    await new Promise<void>((r) => busy.listen(port, "127.0.0.1", r));
    try {
      const err = await runConnect(deps, [parseTarget(`db:pg:${port}`)]).catch((e) => e);
      expect(err).toBeInstanceOf(ConflictError);
      expect(err.message).toContain(`127.0.0.1:${port}`);
      const h = await runConnect(deps, [parseTarget(`db:pg:${port}`)], { autoPort: true });
      try {
        expect(h.forwards[0]!.hostPort).not.toBe(port);
        expect(deps.events.some((e) => e.type === "info" && e.message.includes(`127.0.0.1:${port} is busy`))).toBe(true);
        const text = await new Promise<string>((resolve) => {
          let out = "";
          const s = require("node:net").connect(h.forwards[0]!.hostPort, "127.0.0.1");
          s.on("data", (d: Buffer) => (out += d));
          s.on("close", () => resolve(out));
        });
        expect(text).toBe("hello from db-1\n");
        expect((await readBridgeEnv(deps)).BRIDGE_DB_URL).toBe(`postgres://127.0.0.1:${h.forwards[0]!.hostPort}`);
      } finally {
        await h.stop();
      }
    } finally {
      busy.close();
    }
  }, 60_000);
});

describe("target parsing", () => {
  test("svc[:port[:local]]", () => {
    expect(parseTarget("api")).toEqual({ service: "api", port: undefined, local: undefined });
    expect(parseTarget("api:http")).toEqual({ service: "api", port: "http", local: undefined });
    expect(parseTarget("pg.db:5432:15432")).toEqual({ service: "pg.db", port: "5432", local: 15432 });
    expect(() => parseTarget("API")).toThrow(/bad target/);
    expect(() => parseTarget("api:http:99999")).toThrow(/host port/);
  });
});
