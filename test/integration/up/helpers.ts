import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { configSchema } from "../../../src/config/schema.ts";
import { buildGraph } from "../../../src/core/up/graph.ts";
import { hostRuntime } from "../../../src/core/up/runtimes/host.ts";
import { Supervisor, resolvePorts } from "../../../src/core/up/supervisor.ts";
import { ephemeralPort } from "../../../src/core/up/ports.ts";
import { systemExec } from "../../../src/platform/exec.ts";
import type { DevxEvent } from "../../../src/events/types.ts";

/** A dir with an index.html for `busybox httpd`. */
export function webRoot(): string {
  const dir = mkdtempSync(join(tmpdir(), "devx-up-www-"));
  mkdirSync(join(dir, "www"));
  writeFileSync(join(dir, "www", "index.html"), "ok\n");
  return dir;
}

/** A host service answering HTTP on $PORT after `delay` seconds. */
export const httpd = (www: string, delay = 0) => `${delay ? `sleep ${delay}; ` : ""}exec busybox httpd -f -p 127.0.0.1:$PORT -h ${www}/www`;

export const freePort = ephemeralPort;

export interface Timed {
  at: number;
  e: DevxEvent;
}

/** A supervisor over real host processes, recording every event with its time. */
export async function supervise(config: unknown, opts: { backoff?: { initialMs: number; maxMs: number } } = {}) {
  const graph = buildGraph(v.parse(configSchema, config));
  const events: Timed[] = [];
  const emit = (e: DevxEvent) => void events.push({ at: performance.now(), e });
  const ports = await resolvePorts(graph, emit);
  const dir = mkdtempSync(join(tmpdir(), "devx-up-logs-"));
  const sup = new Supervisor({ graph, project: "t", baseDir: dir, runtimes: { host: hostRuntime(systemExec) }, emit, logDir: dir, ports, backoff: opts.backoff });
  const when = (node: string, state: string) => events.find((x) => x.e.type === "state" && x.e.node === node && x.e.state === state)?.at;
  const pids = () => new Set(events.flatMap((x) => (x.e.type === "state" && typeof x.e.detail?.pid === "number" ? [x.e.detail.pid as number] : [])));
  return { sup, events, when, pids, logDir: dir, ports };
}

/** Processes (not zombies) whose process group is one of `groups` — what a clean stop leaves: none. */
export function livingInGroups(groups: Set<number>): string[] {
  const r = Bun.spawnSync(["ps", "-eo", "pid=,pgid=,stat=,args="], { stdout: "pipe" });
  return r.stdout
    .toString()
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 3 && groups.has(Number(f[1])) && !f[2]!.startsWith("Z"))
    .map((f) => f.join(" "));
}
