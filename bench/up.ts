#!/usr/bin/env bun
/**
 * `devx up` scheduling overhead. A 20-node graph in 5 levels (each node depends on two nodes of
 * the level above) of host services that become healthy a known delay after they start and take a
 * known delay to stop after SIGTERM. Figures, as ratios to the critical path's own delay measured
 * in the same run:
 *   up:   wall time from up() to all-healthy  ÷  (5 × start delay)          target ≤ 1.10
 *   down: wall time of down()                 ÷  (5 × stop delay)
 * and, for scale, the same critical path run as 5 sequential plain `sh -c sleep` processes
 * (what the process starts alone cost here).
 *
 *   bun bench/up.ts [--start-ms 300] [--stop-ms 150] [--runs 3]
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as v from "valibot";
import { configSchema } from "../src/config/schema.ts";
import { buildGraph } from "../src/core/up/graph.ts";
import { hostRuntime } from "../src/core/up/runtimes/host.ts";
import { Supervisor, resolvePorts } from "../src/core/up/supervisor.ts";
import { ephemeralPort } from "../src/core/up/ports.ts";
import { systemExec } from "../src/platform/exec.ts";

const { values } = parseArgs({ options: { "start-ms": { type: "string", default: "300" }, "stop-ms": { type: "string", default: "150" }, runs: { type: "string", default: "3" } } });
const startMs = Number(values["start-ms"]);
const stopMs = Number(values["stop-ms"]);
const runs = Number(values.runs);
const LEVELS = 5;
const WIDTH = 4;

const dir = mkdtempSync(join(tmpdir(), "devx-bench-up-"));
mkdirSync(join(dir, "www"));
writeFileSync(join(dir, "www", "index.html"), "ok\n");

async function config() {
  const services = [];
  const used = new Set<number>();
  const port = async () => {
    for (;;) {
      const p = await ephemeralPort();
      if (!used.has(p)) return used.add(p), p;
    }
  };
  for (let l = 0; l < LEVELS; l++) {
    for (let i = 0; i < WIDTH; i++) {
      const deps = l === 0 ? undefined : Object.fromEntries([i, (i + 1) % WIDTH].map((j) => [`n${l - 1}-${j}`, { condition: "service_healthy" }]));
      services.push({
        name: `n${l}-${i}`,
        // healthy (listening) startMs after start; on SIGTERM the shell takes stopMs to exit
        command: `trap 'sleep ${stopMs / 1000}; exit 0' TERM; sleep ${startMs / 1000}; busybox httpd -f -p 127.0.0.1:$PORT -h ${dir}/www & wait`,
        port: await port(),
        stop_grace_period: "5s",
        ...(deps ? { depends_on: deps } : {}),
      });
    }
  }
  return v.parse(configSchema, { services });
}

async function sequentialBaseline(): Promise<number> {
  const t0 = performance.now();
  for (let l = 0; l < LEVELS; l++) await Bun.spawn(["sh", "-c", `sleep ${startMs / 1000}`]).exited;
  return performance.now() - t0;
}

const ups: number[] = [];
const downs: number[] = [];
const seqs: number[] = [];
for (let r = 0; r < runs; r++) {
  const graph = buildGraph(await config());
  const ports = await resolvePorts(graph, () => {});
  const sup = new Supervisor({ graph, project: "bench", baseDir: dir, runtimes: { host: hostRuntime(systemExec) }, emit: () => {}, logDir: join(dir, "logs"), ports });
  const t0 = performance.now();
  await sup.up();
  ups.push(performance.now() - t0);
  const t1 = performance.now();
  await sup.down();
  downs.push(performance.now() - t1);
  seqs.push(await sequentialBaseline());
}
rmSync(dir, { recursive: true, force: true });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const upCrit = LEVELS * startMs;
const downCrit = LEVELS * stopMs;
const f = (x: number) => x.toFixed(0);
console.log(`devx up bench: ${LEVELS * WIDTH} host nodes, ${LEVELS} levels, start delay ${startMs} ms, stop delay ${stopMs} ms, ${runs} run(s), median`);
console.log(`up:   ${f(median(ups))} ms to all-healthy; critical path delay ${upCrit} ms  → ratio ${(median(ups) / upCrit).toFixed(3)} (target ≤ 1.10)`);
console.log(`down: ${f(median(downs))} ms to all stopped; critical path delay ${downCrit} ms → ratio ${(median(downs) / downCrit).toFixed(3)}`);
console.log(`baseline: the critical path as ${LEVELS} sequential \`sh -c sleep\` processes: ${f(median(seqs))} ms → ratio ${(median(seqs) / upCrit).toFixed(3)}`);
console.log(`up vs that baseline: ${(median(ups) / median(seqs)).toFixed(3)} (scheduling + health-probe latency + the services' own extra fork)`);
