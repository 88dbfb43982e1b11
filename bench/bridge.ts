#!/usr/bin/env bun
/**
 * Bridge intercept benchmark on the fake cluster (loopback), the compiled binary as the agent.
 * Every figure is printed next to a baseline measured in the same run, as a ratio:
 *   - small HTTP requests (keep-alive, sequential): p50/p99 latency through the intercept vs direct
 *     to the host app → added latency; requests/s with 16 concurrent clients, both ways;
 *   - bulk: MB/s of a 1 GB upload through the intercept vs straight to the host sink, and vs one raw
 *     WebSocket port-forward in the same direction (pod → `devx bridge connect`: the transport under
 *     the tunnel, i.e. its ceiling); CPU seconds per GiB of each process on the path and the peak RSS
 *     of the agent and the CLI (memory must stay bounded whatever the size);
 *   - time from `intercept` to the first intercepted request, by phase.
 * Targets (issue 4): added p50 < 0.5 ms, bulk ≥ 50% of direct, first request < 3 s.
 *
 *   bun bench/bridge.ts [--requests 2000] [--bulk-mb 1024] [--bulk-only]
 */
import { parseArgs } from "node:util";
import { connect, createServer } from "node:net";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeCluster, echoPod } from "../test/support/fake-kube/index.ts";
import { ensureBinary } from "../test/support/binary.ts";
import { loadKube } from "../providers/kube/client.ts";

const { values } = parseArgs({ options: { requests: { type: "string", default: "2000" }, "bulk-mb": { type: "string", default: "1024" }, "bulk-only": { type: "boolean", default: false } } });
const N = Number(values.requests);
const BULK = Number(values["bulk-mb"]) * 1024 * 1024;
const IMAGE = "localhost/devx-agent:bench";

const binary = ensureBinary();
const cluster = await startFakeCluster({ images: { [IMAGE]: binary } });
const kube = loadKube({ kubeconfig: cluster.kubeconfigPath });
const state = mkdtempSync(join(tmpdir(), "devx-bench-"));

// host side: a tiny HTTP app and a byte sink that answers with the count when the sender finishes
const app = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("ok") });
const sink = createServer((s) => {
  let n = 0;
  // answers once everything arrived (the fake's service proxy does not carry half-closes)
  s.on("data", (d) => {
    n += d.length;
    if (n >= BULK) s.end(`${n}\n`);
  });
});
await new Promise<void>((r) => sink.listen(0, "127.0.0.1", r));
const sinkPort = (sink.address() as { port: number }).port;

await cluster.addAppPod({ name: "web-1", labels: { app: "web" }, ports: [{ name: "http", containerPort: 8080 }, { name: "bulk", containerPort: 9000 }] }, echoPod);
await kube.core.createNamespacedService({ namespace: kube.namespace, body: { apiVersion: "v1", kind: "Service", metadata: { name: "web" }, spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: 8080, protocol: "TCP" }, { name: "bulk", port: 9000, targetPort: 9000, protocol: "TCP" }] } } });

// The CLI runs as its own process (the compiled binary), as on a laptop: the bench process already
// hosts the fake API server, its service proxy, the client and the host app.
const t0 = performance.now();
const cli = Bun.spawn([binary, "bridge", "intercept", "web", "--port", `http:${app.port}`, "--port", `bulk:${sinkPort}`, "--json"], {
  env: { ...process.env, KUBECONFIG: cluster.kubeconfigPath, DEVX_AGENT_IMAGE: IMAGE, DEVX_HOME: state, NO_COLOR: "1" },
  stdout: "pipe",
  stderr: "inherit",
});
const readyLine = await (async () => {
  const reader = cli.stdout.getReader();
  let text = "";
  for (;;) {
    for (const l of text.split("\n").slice(0, -1)) if (l.includes('"phases"')) return reader.releaseLock(), JSON.parse(l) as { phases: Record<string, number> };
    const { value, done } = await reader.read();
    if (done) throw new Error(`intercept exited: ${text}`);
    text += new TextDecoder().decode(value);
  }
})();
const readyMs = performance.now() - t0;
const svcHttp = `http://${cluster.serviceAddress(cluster.namespace, "web", "http")}/`;
const first = await fetch(svcHttp).then((r) => r.text());
const firstMs = performance.now() - t0;
if (first !== "ok") throw new Error(`first request did not reach the host app: ${first}`);

async function latencies(url: string): Promise<number[]> {
  for (let i = 0; i < 100; i++) await (await fetch(url)).text(); // warm-up, keep-alive established
  const out: number[] = [];
  for (let i = 0; i < N; i++) {
    const s = performance.now();
    await (await fetch(url)).text();
    out.push(performance.now() - s);
  }
  return out.sort((a, b) => a - b);
}
const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

async function rps(url: string, concurrency = 16, total = N * 2): Promise<number> {
  let left = total;
  const s = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (left-- > 0) await (await fetch(url)).text();
  }));
  return total / ((performance.now() - s) / 1000);
}

/** CPU seconds (user+sys) of a process so far, and its peak RSS in MiB, from /proc (Linux). */
function procStats(pid: number): { cpu: number; peakMiB: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return { cpu: (Number(f[11]) + Number(f[12])) / 100, peakMiB: Number(hwm?.[1] ?? 0) / 1024 };
}
/** The agent's pid: the fake cluster runs it as a local process with the session's arguments. */
function agentPid(): number {
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const cmd = (() => { try { return readFileSync(`/proc/${d}/cmdline`, "utf8"); } catch { return ""; } })();
    if (cmd.includes("agent\0") && cmd.includes("--session")) return Number(d);
  }
  throw new Error("agent process not found");
}

async function upload(hostPort: string): Promise<number> {
  const [host, port] = hostPort.split(":");
  const chunk = Buffer.alloc(1024 * 1024, 7);
  const s = performance.now();
  const got = await new Promise<number>((resolve, reject) => {
    const sock = connect(Number(port), host!);
    let reply = "";
    sock.on("data", (d) => (reply += d));
    sock.on("end", () => resolve(Number(reply.trim())));
    sock.on("error", reject);
    let sent = 0;
    const pump = () => {
      while (sent < BULK) {
        sent += chunk.length;
        if (!sock.write(chunk)) return void sock.once("drain", pump);
      }
    };
    sock.once("connect", pump);
  });
  if (got !== BULK) throw new Error(`sink received ${got} of ${BULK} bytes`);
  return BULK / 1024 / 1024 / ((performance.now() - s) / 1000);
}

const directUrl = `http://127.0.0.1:${app.port}/`;
const quick = values["bulk-only"];
const direct = quick ? [1] : await latencies(directUrl);
const through = quick ? [1] : await latencies(svcHttp);
const rpsDirect = quick ? 1 : await rps(directUrl);
const rpsThrough = quick ? 1 : await rps(svcHttp);
const bulkDirect = await upload(`127.0.0.1:${sinkPort}`);
// where the CPU goes during the intercepted upload: this process (client, fake cluster, host sink), the agent, the CLI
const pids = { bench: process.pid, agent: agentPid(), cli: cli.pid };
const cpuBefore = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, procStats(pid).cpu]));
const bulkThrough = await upload(cluster.serviceAddress(cluster.namespace, "web", "bulk"));
const cpuAfter = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, procStats(pid)]));

// The ceiling under the tunnel: one raw WebSocket port-forward, no agent, no yamux, carrying the
// bulk the way the intercept's upload crosses it (pod → API server → client) to a client in its own
// process, as the CLI is: `devx bridge connect` to a pod that sends BULK bytes, read here.
await cluster.addAppPod({ name: "src-1", labels: { app: "src" }, ports: [{ name: "bulk", containerPort: 9000 }] }, {
  tcp: (s) => {
    const chunk = Buffer.alloc(1024 * 1024, 7);
    let sent = 0;
    const pump = () => {
      while (sent < BULK) {
        sent += chunk.length;
        if (!s.write(chunk)) return void s.once("drain", pump);
      }
    };
    pump();
    s.on("error", () => {});
  },
});
await kube.core.createNamespacedService({ namespace: kube.namespace, body: { apiVersion: "v1", kind: "Service", metadata: { name: "src" }, spec: { selector: { app: "src" }, ports: [{ name: "bulk", port: 9000, protocol: "TCP" }] } } });
const fwdPort = await new Promise<number>((resolve) => {
  const probe = createServer();
  probe.listen(0, "127.0.0.1", () => {
    const p = (probe.address() as { port: number }).port;
    probe.close(() => resolve(p));
  });
});
const fwd = Bun.spawn([binary, "bridge", "connect", "-t", `src:bulk:${fwdPort}`, "--json"], {
  env: { ...process.env, KUBECONFIG: cluster.kubeconfigPath, DEVX_HOME: state, NO_COLOR: "1" },
  stdout: "pipe",
  stderr: "inherit",
});
{
  const reader = fwd.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`bridge connect exited: ${text}`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
}
const fwdCpu0 = procStats(fwd.pid).cpu;
const pfStart = performance.now();
await new Promise<void>((resolve, reject) => {
  let n = 0;
  const sock = connect(fwdPort, "127.0.0.1");
  sock.on("data", (d) => {
    n += d.length;
    if (n >= BULK) resolve(void sock.destroy());
  });
  sock.on("error", reject);
});
const bulkPortForward = BULK / 1024 / 1024 / ((performance.now() - pfStart) / 1000);
const fwdCpu = (procStats(fwd.pid).cpu - fwdCpu0) * (1024 ** 3 / BULK);
fwd.kill("SIGTERM");
await fwd.exited;

const f = (x: number) => x.toFixed(3);
console.log(`bridge intercept benchmark (fake cluster on loopback; ${N} sequential keep-alive requests; ${BULK / 1024 / 1024} MiB upload)`);
console.log(`latency p50: intercept ${f(pct(through, 50))} ms vs direct ${f(pct(direct, 50))} ms → added ${f(pct(through, 50) - pct(direct, 50))} ms (target < 0.5 ms), ratio ${(pct(through, 50) / pct(direct, 50)).toFixed(1)}×`);
console.log(`latency p99: intercept ${f(pct(through, 99))} ms vs direct ${f(pct(direct, 99))} ms → added ${f(pct(through, 99) - pct(direct, 99))} ms, ratio ${(pct(through, 99) / pct(direct, 99)).toFixed(1)}×`);
console.log(`requests/s (16 concurrent): intercept ${rpsThrough.toFixed(0)} vs direct ${rpsDirect.toFixed(0)} → ${((100 * rpsThrough) / rpsDirect).toFixed(1)}% of direct`);
console.log(`bulk upload: intercept ${bulkThrough.toFixed(1)} MB/s vs direct ${bulkDirect.toFixed(1)} MB/s → ${((100 * bulkThrough) / bulkDirect).toFixed(1)}% of direct (target ≥ 50%)`);
console.log(`bulk CPU per GiB through the intercept: ${Object.entries(cpuAfter).map(([k, v]) => `${k} ${((v.cpu - cpuBefore[k]!) * (1024 ** 3 / BULK)).toFixed(2)} s`).join(", ")}; peak RSS agent ${cpuAfter.agent!.peakMiB.toFixed(0)} MiB, CLI ${cpuAfter.cli!.peakMiB.toFixed(0)} MiB`);
console.log(`bulk ceiling: one raw port-forward pod → \`devx bridge connect\` (no agent, no yamux) ${bulkPortForward.toFixed(1)} MB/s (its CPU ${fwdCpu.toFixed(2)} s/GiB) → the intercept reaches ${((100 * bulkThrough) / bulkPortForward).toFixed(1)}% of it`);
console.log(`\`devx bridge intercept\` started → first intercepted request: ${firstMs.toFixed(0)} ms (target < 3000 ms); process start + config ${(readyMs - (readyLine.phases.total ?? 0)).toFixed(0)} ms, ${Object.entries(readyLine.phases).map(([k, v]) => `${k} ${v} ms`).join(", ")}, first request ${(firstMs - readyMs).toFixed(0)} ms`);

cli.kill("SIGTERM");
if ((await cli.exited) !== 0) throw new Error("intercept did not stop cleanly");
app.stop(true);
sink.close();
await cluster.stop();
process.exit(0);
