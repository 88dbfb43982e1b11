import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import * as v from "valibot";
import { main } from "../../../src/cli/main.ts";
import { memoryIO } from "../../../src/cli/io.ts";
import { createDeps } from "../../../src/cli/deps.ts";
import { globalOptions } from "../../../src/cli/define.ts";
import { servicesStatus, writeUpSession } from "../../../src/core/up/session.ts";
import { pidAlive } from "../../../src/platform/atomic.ts";
import { groupAlive } from "../../../src/platform/process.ts";
import type { DevxEvent } from "../../../src/events/types.ts";
import type { NodeStatus } from "../../../src/core/up/supervisor.ts";
import { testWith } from "../../support/require.ts";
import { ensureBusyboxImage, podmanAvailable } from "../../support/images.ts";
import { freePort, httpd, webRoot } from "./helpers.ts";

/**
 * A `devx up` killed with SIGKILL leaves its host services (own sessions) and containers (under
 * conmon) running, holding their ports. The next `up`, `down` and `doctor --fix` find them from the
 * dead run's record and stop them before anything else happens; a PID the kernel handed to another
 * program since is never signalled.
 */
const podman = podmanAvailable();
const www = webRoot();
const dir = mkdtempSync(join(tmpdir(), "devx-up-orphans-"));
const project = `orph-${process.pid}-${Date.now() % 100000}`;
const BIN = resolve(import.meta.dir, "../../../src/bin.ts");
afterAll(() => {
  rmSync(www, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
  if (podman) Bun.spawnSync(["podman", "rm", "-f", "-t", "0", "--filter", `label=devx.project=${project}`], { stdout: "ignore", stderr: "ignore" });
}, 60_000);

const client = () => createDeps(v.parse(globalOptions, {}), { io: memoryIO(), cwd: dir });
const containerRunning = (name: string) => Bun.spawnSync(["podman", "ps", "-q", "--filter", `name=^${name}$`], { stdout: "pipe" }).stdout.toString().trim() !== "";
const portOpen = (port: number) => fetch(`http://127.0.0.1:${port}/`).then(() => true, () => false);

let ports: { host: number; web: number };

/** `devx up` as its own process, until every node is healthy; then SIGKILL it. Returns what it had running. */
async function upThenKill(): Promise<NodeStatus[]> {
  const log = openSync(join(dir, "up.log"), "a");
  const child = Bun.spawn([process.execPath, BIN, "up"], { cwd: dir, env: process.env, stdin: "ignore", stdout: log, stderr: log });
  closeSync(log);
  const deadline = Date.now() + 60_000;
  let nodes: NodeStatus[] = [];
  for (;;) {
    const st = await servicesStatus(client()).catch(() => ({ running: false, nodes: [] as NodeStatus[] }));
    nodes = st.nodes;
    if (st.running && nodes.length === 2 && nodes.every((n) => n.health === "healthy")) break;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`devx up did not come up (exit ${child.exitCode})`);
    await Bun.sleep(50);
  }
  child.kill("SIGKILL");
  await child.exited;
  // what SIGKILL leaves: the host group and the container, still serving on their ports
  const api = nodes.find((n) => n.name === "api")!;
  expect(pidAlive(api.pid!)).toBe(true);
  expect(containerRunning(`devx-${project}-web`)).toBe(true);
  expect(await portOpen(ports.host)).toBe(true);
  expect(await portOpen(ports.web)).toBe(true);
  return nodes;
}

function expectGone(nodes: NodeStatus[]): void {
  const api = nodes.find((n) => n.name === "api")!;
  expect(pidAlive(api.pid!)).toBe(false);
  // its own child (sleep) went with it: the whole group
  expect(groupAlive(api.pid!)).toBe(false);
  expect(containerRunning(`devx-${project}-web`)).toBe(false);
}

testWith("podman", podman)(
  "after a SIGKILLed up: the next up stops the orphans first (ports unshifted), down stops them, doctor --fix stops them",
  async () => {
    const image = ensureBusyboxImage();
    ports = { host: await freePort(), web: await freePort() };
    writeFileSync(
      join(dir, "devx.yaml"),
      [
        `name: ${project}`,
        "services:",
        "  - name: web",
        "    runtime: container",
        `    image: ${image}`,
        '    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]',
        `    port: ${ports.web}`,
        "    container_port: 8080",
        "    stop_grace_period: 1s",
        "  - name: api",
        `    command: ${JSON.stringify(`sleep 300 & ${httpd(www)}`)}`,
        `    port: ${ports.host}`,
      ].join("\n"),
    );

    // 1. the next `up` stops the orphans, and only then resolves ports and starts
    const first = await upThenKill();
    const events: DevxEvent[] = [];
    const io = memoryIO();
    expect(await main(["up", "--exit-when-healthy", "--json"], { io, cwd: dir, emit: (e) => void events.push(e) })).toBe(0);
    const warning = events.find((e) => e.type === "warning") as { message: string } | undefined;
    expect(warning?.message).toStartWith(`stopped what a crashed devx up of ${project} left running: process group ${first.find((n) => n.name === "api")!.pid}`);
    expect(warning?.message).toContain(`container devx-${project}-web`);
    expect(events.some((e) => e.type === "warning" && e.message.includes("is busy"))).toBe(false);
    const second = (JSON.parse(io.stdout().trim().split("\n").pop()!) as { nodes: NodeStatus[] }).nodes;
    expect(second.map((n) => [n.name, n.port])).toEqual([
      ["web", ports.web],
      ["api", ports.host],
    ]);
    expectGone(first);

    // 2. `devx down` after a SIGKILLed up stops them too
    const again = await upThenKill();
    const down = memoryIO();
    expect(await main(["down"], { io: down, cwd: dir })).toBe(0);
    expect(down.stderr()).toContain("devx up is not running for");
    expect(down.stderr()).toContain(`stopped what the crashed run left behind: process group ${again.find((n) => n.name === "api")!.pid}`);
    expectGone(again);

    // 3. and so does `devx doctor --fix`
    const third = await upThenKill();
    const doc = memoryIO();
    await main(["doctor", "--fix", "--json"], { io: doc, cwd: dir });
    const report = JSON.parse(doc.stdout()) as { stopped: string[]; fixed: string[] };
    expect(report.stopped).toContain(`process group ${third.find((n) => n.name === "api")!.pid}`);
    expect(report.stopped).toContain(`container devx-${project}-web`);
    expect(report.fixed).toContain(`up/${project}`);
    expectGone(third);
    expect(await portOpen(ports.host)).toBe(false);
  },
  240_000,
);

test("recorded PIDs that now belong to another program (supervisor or service) are left alone; a process with the run's marker is stopped even if unrecorded", async () => {
  const d = mkdtempSync(join(tmpdir(), "devx-up-reuse-"));
  writeFileSync(join(d, "devx.yaml"), "name: reuse\nservices:\n  - name: a\n    command: x\n");
  // an unrelated process with the PIDs the record names, for the supervisor and a service (start times differ)
  const stranger = Bun.spawn(["sleep", "300"], { detached: true });
  // a service started after the record was last written: only its marker says whose it is
  const marked = Bun.spawn(["sh", "-c", "exec sleep 300"], { detached: true, env: { ...process.env, DEVX_UP_RUN: "cafe0123cafe0123" } });
  try {
    // until it runs its own program, /proc shows the environment of our fork
    const deadline = Date.now() + 5000;
    while (!readFileSync(`/proc/${marked.pid}/cmdline`, "utf8").startsWith("sleep") && Date.now() < deadline) await Bun.sleep(5);
    const state = join(process.env.DEVX_HOME!, "state");
    await writeUpSession(state, { project: "reuse", configPath: join(d, "devx.yaml"), controlPort: 1, token: "x", logDir: d, env: {}, detached: false, runId: "cafe0123cafe0123", ownerStart: "1", hosts: [{ node: "a", pid: stranger.pid, start: "1" }], containers: [], databases: [] });
    const rec = JSON.parse(await Bun.file(join(state, "sessions", "up", "reuse.json")).text());
    await Bun.write(join(state, "sessions", "up", "reuse.json"), JSON.stringify({ ...rec, pid: stranger.pid }));
    const io = memoryIO();
    expect(await main(["down"], { io, cwd: d })).toBe(0);
    expect(io.stderr()).toContain(`stopped what the crashed run left behind: process ${marked.pid}`);
    expect(await marked.exited).not.toBe(0);
    expect(pidAlive(stranger.pid)).toBe(true);
  } finally {
    stranger.kill("SIGKILL");
    marked.kill("SIGKILL");
    rmSync(d, { recursive: true, force: true });
  }
}, 30_000);
