import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { startFakeCluster, type FakeCluster } from "../../support/fake-kube/index.ts";
import { loadKube, type KubeClient } from "../../../providers/kube/client.ts";
import { openPortForward } from "../../../providers/kube/port-forward.ts";

/**
 * The port-forward Duplex through client-node's WebSocket and the fake API server: bytes arrive
 * exact both ways, and a side that stops reading holds the other back (memory stays bounded on a
 * transfer of any size) instead of queueing everything in the WebSocket or the Duplex.
 */
let cluster: FakeCluster;
let kube: KubeClient;
/** per test: what the pod does with a connection */
let onConnection: (s: import("node:net").Socket) => void = () => {};

beforeAll(async () => {
  cluster = await startFakeCluster();
  kube = loadKube({ kubeconfig: cluster.kubeconfigPath });
  await cluster.addAppPod({ name: "pf-1", labels: { app: "pf" }, ports: [{ name: "tcp", containerPort: 7000 }] }, { tcp: (s) => onConnection(s) });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
});

const MiB = 1024 * 1024;

describe("port-forward", () => {
  test("echoes 16 MiB byte-exact", async () => {
    onConnection = (s) => s.pipe(s);
    const pf = await openPortForward(kube, kube.namespace, "pf-1", 7000);
    const data = randomBytes(16 * MiB);
    const back: Buffer[] = [];
    let got = 0;
    const done = new Promise<void>((r) => pf.on("data", (d: Buffer) => (back.push(d), (got += d.length) >= data.length && r())));
    for (let off = 0; off < data.length; off += MiB) if (!pf.write(data.subarray(off, off + MiB))) await new Promise((r) => pf.once("drain", r));
    await done;
    expect(createHash("sha256").update(Buffer.concat(back)).digest("hex")).toBe(createHash("sha256").update(data).digest("hex"));
    pf.destroy();
  }, 30_000);

  test("writes wait for the WebSocket: what is accepted stays within a few MiB of what reached the pod", async () => {
    let podReceived = 0;
    onConnection = (s) => s.on("data", (d: Buffer) => (podReceived += d.length));
    const pf = await openPortForward(kube, kube.namespace, "pf-1", 7000);
    const chunk = Buffer.alloc(MiB, 1);
    let accepted = 0;
    let ahead = 0;
    while (accepted < 128 * MiB) {
      const ok = pf.write(chunk);
      accepted += chunk.length;
      ahead = Math.max(ahead, accepted - podReceived);
      if (!ok) await new Promise((r) => pf.once("drain", r));
    }
    while (podReceived < accepted) await Bun.sleep(5);
    // our 4 MiB mark + the Duplex's 1 MiB + kernel and API server buffers; a free-running writer is ~128 MiB ahead
    expect(ahead).toBeLessThan(48 * MiB);
    pf.destroy();
  }, 30_000);

  test("a pod that reads nothing makes writes wait (nothing piles up in the WebSocket or the API server)", async () => {
    onConnection = (s) => s.pause();
    const pf = await openPortForward(kube, kube.namespace, "pf-1", 7000);
    const chunk = Buffer.alloc(MiB, 1);
    let accepted = 0;
    const deadline = Date.now() + 1500;
    while (Date.now() < deadline && accepted < 256 * MiB) {
      const ok = pf.write(chunk);
      accepted += chunk.length;
      if (!ok) {
        await new Promise<void>((r) => {
          const done = () => (clearTimeout(t), pf.off("drain", done), r());
          const t = setTimeout(done, 100);
          pf.once("drain", done);
        });
      }
    }
    // kernel buffers + our 4 MiB mark: far less than a free-running writer pushes in 1.5 s
    expect(accepted).toBeLessThan(64 * MiB);
    pf.destroy();
  }, 30_000);

  test("a reader that stops makes the pod's writes wait (the Duplex buffers ~1 MiB, not the transfer)", async () => {
    let podWritten = 0;
    let stop = false;
    onConnection = (s) => {
      const chunk = Buffer.alloc(MiB, 2);
      const pump = () => {
        while (!stop && podWritten < 512 * MiB) {
          podWritten += chunk.length;
          if (!s.write(chunk)) return void s.once("drain", pump);
        }
      };
      pump();
      s.on("error", () => {});
    };
    const pf = await openPortForward(kube, kube.namespace, "pf-1", 7000);
    pf.pause();
    // the pod keeps writing until every buffer on the way is full, then waits
    let last = -1;
    while (podWritten !== last) {
      last = podWritten;
      await Bun.sleep(300);
    }
    expect(podWritten).toBeLessThan(128 * MiB);
    expect(pf.readableLength).toBeLessThan(8 * MiB);
    // and it resumes when we read again
    let read = 0;
    pf.on("data", (d: Buffer) => (read += d.length));
    pf.resume();
    while (read < 32 * MiB) await Bun.sleep(10);
    stop = true;
    pf.destroy();
  }, 30_000);
});
