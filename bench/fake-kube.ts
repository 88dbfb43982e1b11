/**
 * What the fake cluster's data plane costs, so bridge benchmarks can tell its overhead from
 * devx's: MB/s of a bulk pod→client transfer through the service proxy and through the WebSocket
 * port-forward (real @kubernetes/client-node PortForward, TLS), each next to the same transfer
 * straight from the pod's socket, as a ratio (best of interleaved rounds); and the p50/p99 latency
 * the service proxy adds to small keep-alive HTTP requests, next to the same requests sent to the
 * pod directly.
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
/** Sequential small GETs on one keep-alive connection; returns sorted latencies in ms. */
async function latencies(addr: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await (await fetch(`http://${addr}/x`)).arrayBuffer();
    out.push(performance.now() - t);
  }
  return out.sort((a, b) => a - b);
}
await cluster.addAppPod({ name: "small", labels: { app: "small" }, ports: [{ containerPort: 8080 }], }, () => new Response("ok"));
await api.core.createNamespacedService({ namespace: "default", body: { metadata: { name: "small" }, spec: { selector: { app: "small" }, ports: [{ port: 8080 }] } } });
const smallPod = cluster.get("Pod", "default", "small")!.status.podIP;
const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
await latencies(`${smallPod}:8080`, 200);
await latencies(cluster.serviceAddress("default", "small", 8080), 200);
const direct = await latencies(`${smallPod}:8080`, 3000);
const proxied = await latencies(cluster.serviceAddress("default", "small", 8080), 3000);

const mbps = (ms: number) => size / MiB / (ms / 1000);
console.log(`transfer: ${size / MiB} MiB pod→client, best of ${rounds}`);
console.log(`direct from pod socket : ${mbps(best.direct).toFixed(0)} MB/s (baseline)`);
console.log(`service proxy          : ${mbps(best.proxy).toFixed(0)} MB/s = ${(best.direct / best.proxy).toFixed(2)} × direct`);
console.log(`port-forward (WS, TLS) : ${mbps(best.portForward).toFixed(0)} MB/s = ${(best.direct / best.portForward).toFixed(2)} × direct`);
console.log(`small GETs, keep-alive, 3000 each: direct p50 ${pct(direct, 0.5).toFixed(3)} ms p99 ${pct(direct, 0.99).toFixed(3)} ms (baseline)`);
console.log(`  via service proxy: p50 ${pct(proxied, 0.5).toFixed(3)} ms p99 ${pct(proxied, 0.99).toFixed(3)} ms; added p50 ${(pct(proxied, 0.5) - pct(direct, 0.5)).toFixed(3)} ms = ${(pct(proxied, 0.5) / pct(direct, 0.5)).toFixed(2)} × direct`);
