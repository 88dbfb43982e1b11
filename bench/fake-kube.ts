/**
 * What the fake cluster's data plane costs, so bridge benchmarks can tell its overhead from
 * devx's: MB/s of a bulk pod→client transfer through the service proxy and through the WebSocket
 * port-forward (real @kubernetes/client-node PortForward, TLS), each next to the same transfer
 * straight from the pod's socket, as a ratio. Best of interleaved rounds.
 *
 *   bun bench/fake-kube.ts [MiB per transfer = 256] [rounds = 3]
 */
import net from "node:net";
import { Writable } from "node:stream";
import { PortForward } from "@kubernetes/client-node";
import { testClients } from "../test/support/fake-kube/client.ts";
import { startFakeCluster } from "../test/support/fake-kube/index.ts";

const MiB = 1 << 20;
const size = Number(process.argv[2] ?? 256) * MiB;
const rounds = Number(process.argv[3] ?? 3);
const chunk = Buffer.alloc(256 * 1024, 7);

/** The pod streams `size` bytes to every connection, respecting backpressure, then closes. */
function sender(s: net.Socket): void {
  let sent = 0;
  const pump = () => {
    while (sent < size) {
      sent += chunk.length;
      if (!s.write(chunk)) return void s.once("drain", pump);
    }
    s.end();
  };
  pump();
}

function tcpReceive(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    let got = 0;
    const s = net.connect({ host, port });
    s.on("data", (d) => (got += d.length));
    s.on("error", reject);
    s.on("close", () => (got >= size ? resolve(performance.now() - t) : reject(new Error(`short read ${got}`))));
  });
}

async function portForwardReceive(pf: PortForward, pod: string, port: number): Promise<number> {
  const t = performance.now();
  let got = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const out = new Writable({ write(c: Buffer, _e, cb) { got += c.length; if (got >= size) done(); cb(); } });
  const ws: any = await pf.portForward("default", pod, [port], out, null, new (await import("node:stream")).PassThrough());
  await finished;
  ws.close();
  return performance.now() - t;
}

await using cluster = await startFakeCluster();
const api = testClients(cluster);
const pod = await cluster.addAppPod({ name: "bulk", labels: { app: "bulk" }, ports: [{ name: "data", containerPort: 9000 }] }, { tcp: sender });
await api.core.createNamespacedService({ namespace: "default", body: { metadata: { name: "bulk" }, spec: { selector: { app: "bulk" }, ports: [{ port: 9000 }] } } });
const [proxyHost, proxyPort] = cluster.serviceAddress("default", "bulk", 9000).split(":");
const pf = new PortForward(api.kc);

const best = { direct: Infinity, proxy: Infinity, portForward: Infinity };
for (let i = 0; i < rounds; i++) {
  best.direct = Math.min(best.direct, await tcpReceive(pod.ip, 9000));
  best.proxy = Math.min(best.proxy, await tcpReceive(proxyHost!, Number(proxyPort)));
  best.portForward = Math.min(best.portForward, await portForwardReceive(pf, "bulk", 9000));
}
const mbps = (ms: number) => size / MiB / (ms / 1000);
console.log(`transfer: ${size / MiB} MiB pod→client, best of ${rounds}`);
console.log(`direct from pod socket : ${mbps(best.direct).toFixed(0)} MB/s (baseline)`);
console.log(`service proxy          : ${mbps(best.proxy).toFixed(0)} MB/s = ${(best.direct / best.proxy).toFixed(2)} × direct`);
console.log(`port-forward (WS, TLS) : ${mbps(best.portForward).toFixed(0)} MB/s = ${(best.direct / best.portForward).toFixed(2)} × direct`);
