import { describe, expect, test } from "bun:test";
import type { Exec, ExecResult } from "../../../src/platform/exec.ts";
import { listDevxContainers } from "../../../src/core/inventory/containers.ts";
import { containersSource, defaultSources } from "../../../tui/sources/index.ts";
import { LogStore } from "../../../tui/sources/log-store.ts";
import { selfRunner } from "../../../tui/main.tsx";
import { selfArgv } from "../../../src/platform/self.ts";
import { systemExec } from "../../../src/platform/exec.ts";
import { createDeps } from "../../../src/cli/deps.ts";
import { globalOptions } from "../../../src/cli/define.ts";
import { memoryIO } from "../../../src/cli/io.ts";
import * as v from "valibot";

/**
 * A strict exec stub: only the listed binaries exist, only the listed argv run (run or spawn), and
 * each must be used.
 */
function stubExec(bins: string[], calls: Array<{ argv: string[]; stdout?: string; stderr?: string; code?: number }>) {
  const pending = [...calls];
  const take = (argv: string[]) => {
    const i = pending.findIndex((c) => JSON.stringify(c.argv) === JSON.stringify(argv));
    if (i < 0) throw new Error(`unexpected command: ${argv.join(" ")}`);
    return pending.splice(i, 1)[0]!;
  };
  const stream = (s = "") => new Response(s).body as ReadableStream<Uint8Array>;
  const exec: Exec = {
    which: (b) => (bins.includes(b) ? `/usr/bin/${b}` : null),
    async run(argv): Promise<ExecResult> {
      const c = take(argv);
      return { argv, code: c.code ?? 0, stdout: c.stdout ?? "", stderr: c.stderr ?? "", timedOut: false };
    },
    spawn(argv) {
      const c = take(argv);
      return { pid: 1, stdin: undefined, stdout: stream(c.stdout), stderr: stream(c.stderr), exited: Promise.resolve(c.code ?? 0), kill() {} };
    },
  };
  return { exec, done: () => expect(pending.map((c) => c.argv.join(" "))).toEqual([]) };
}

const deps = (exec: Exec) => createDeps(v.parse(globalOptions, {}), { exec, io: memoryIO(), cwd: process.env.DEVX_TEST_ROOT! });

// recorded from podman 4.3 (`podman container inspect`, trimmed to the fields devx reads)
const WEB = { Id: "e1649d33ecb71f6a62a023819ffb39b8dd0e616833dd8b33ed18532dd54d3776", Name: "shop-web", ImageName: "localhost/devx-test-busybox:1", Created: "2026-11-23T10:32:04.839457342Z", State: { Status: "running", Running: true }, Config: { Labels: { "devx.kind": "service", "devx.managed": "true", "devx.project": "shop" }, Image: "localhost/devx-test-busybox:1" }, HostConfig: { PortBindings: { "80/tcp": [{ HostIp: "127.0.0.1", HostPort: "18942" }] } }, Mounts: [] };
const DB = { Id: "af7f092205ffb60a54fba389008c2ec7179b1949da06b9c93046ce326c0e6f41", Name: "shop-db", ImageName: "localhost/devx-test-postgres:15", Created: "2026-11-23T10:30:00Z", State: { Status: "exited", Running: false }, Config: { Labels: { "devx.kind": "database", "devx.managed": "true", "devx.project": "shop" } }, HostConfig: { PortBindings: {} }, Mounts: [{ Type: "volume", Name: "shop-db-data", Destination: "/var/lib/postgresql/data" }] };
// the same two as podman 4.3's `ps --format json` rows (trimmed): ps has mount destinations only,
// so the one that mounts a volume is inspected as well
const WEB_PS = { Id: WEB.Id, Names: ["shop-web"], Image: "localhost/devx-test-busybox:1", State: "running", Labels: WEB.Config.Labels, Mounts: [], Ports: [{ host_ip: "127.0.0.1", container_port: 80, host_port: 18942, range: 1, protocol: "tcp" }], Created: 1795429924 };
const DB_PS = { Id: DB.Id, Names: ["shop-db"], Image: "localhost/devx-test-postgres:15", State: "exited", Labels: DB.Config.Labels, Mounts: ["/var/lib/postgresql/data"], Ports: null, Created: 1795429800 };
const PS = ["podman", "ps", "--format", "json", "-a", "--filter", "label=devx.managed=true"];
const INSPECT = ["podman", "container", "inspect", DB.Id];

describe("containers data function (through the runtime adapter)", () => {
  test("podman: devx-labelled containers by name, with kind, project, ports, volumes", async () => {
    const { exec, done } = stubExec(["podman"], [
      { argv: PS, stdout: JSON.stringify([WEB_PS, DB_PS]) },
      { argv: INSPECT, stdout: JSON.stringify([DB]) },
    ]);
    const l = await listDevxContainers(deps(exec));
    done();
    expect(l.runtimeName).toBe("podman");
    expect(l.containers.map((c) => [c.name, c.kind, c.project, c.state, c.ports, c.volumes, c.id])).toEqual([
      ["shop-db", "database", "shop", "exited", "", "shop-db-data:/var/lib/postgresql/data", "af7f092205ff"],
      ["shop-web", "service", "shop", "running", "127.0.0.1:18942->80/tcp", "", "e1649d33ecb7"],
    ]);
  });

  test("no runtime, or a failing one: a ProviderError with a hint", async () => {
    await expect(listDevxContainers(deps(stubExec([], []).exec))).rejects.toMatchObject({ kind: "provider" });
    const { exec } = stubExec(["podman"], [{ argv: PS, code: 125, stderr: "Error: cannot connect to the service" }]);
    const err = await listDevxContainers(deps(exec)).catch((e) => e);
    expect(err.kind).toBe("provider");
    expect(err.message).toContain("cannot connect to the service");
    expect(err.hint).toBeTruthy();
  });

  test("the pane: rows from the listing with CPU and memory from `stats`; ⏎ streams the container's stdout and stderr", async () => {
    // recorded from podman 4.3 (`podman stats --no-stream --format json`, one container)
    const STATS = [{ id: "e1649d33ecb7", name: "shop-web", cpu_time: "89.155879ms", cpu_percent: "20.98%", avg_cpu: "20.98%", mem_usage: "725kB / 25.28GB", mem_percent: "0.00%", net_io: "426B / 516B", block_io: "0B / 0B", pids: "1" }];
    const { exec, done } = stubExec(["podman"], [
      { argv: PS, stdout: JSON.stringify([WEB_PS, DB_PS]) },
      { argv: INSPECT, stdout: JSON.stringify([DB]) },
      { argv: ["podman", "stats", "--no-stream", "--format", "json", "shop-web"], stdout: JSON.stringify(STATS) },
      { argv: ["podman", "logs", "-f", "--tail", "200", "e1649d33ecb7"], stdout: "listening on :80\nready\n", stderr: "warning: slow start\n" },
    ]);
    const src = containersSource(deps(exec));
    const data = await src.load(new AbortController().signal);
    if (data.kind !== "rows") throw new Error("expected rows");
    expect(data.rows.map((r) => [r.cells.name, r.tone, r.cells.cpu, r.cells.mem])).toEqual([
      ["shop-db", "dim", "", ""],
      ["shop-web", "ok", "21.0%", "708.0 KiB"],
    ]);
    expect(data.rows[1]!.sort).toEqual({ cpu: 20.98, mem: 725_000 });
    const lines: string[] = [];
    await src.logs!(data.rows[1]!, (l) => lines.push(l), new AbortController().signal);
    expect(lines.sort()).toEqual(["listening on :80", "ready", "warning: slow start"]);
    done();
  });

  test("every pane of the product is in the sidebar, in order; an unbuilt one says so", async () => {
    const sources = defaultSources(deps(stubExec([], []).exec), new LogStore());
    expect(sources.map((s) => s.title)).toEqual(["VMs", "Containers & databases", "Tunnels", "Bridge", "Snapshots", "Services", "Sessions", "Logs"]);
    const sessions = await sources[6]!.load(new AbortController().signal);
    expect(sessions).toEqual({ kind: "unavailable", reason: "Sandbox sessions (devx session) is not available in this build" });
  });
});

describe("palette runner", () => {
  test("in a checkout, the binary itself is bun plus the entry script", () => {
    const self = selfArgv();
    expect(self[0]).toBe(process.execPath);
  });

  test("streams stdout and stderr line by line and returns the exit code; no TTY, no colour", async () => {
    const script = `console.log("out1\\nout2"); console.error("err:" + (process.env.NO_COLOR ?? "") + ":" + !!process.stdout.isTTY); process.exit(3)`;
    const lines: string[] = [];
    const code = await selfRunner({ exec: systemExec }, [process.execPath, "-e", script])([], (l, s) => lines.push(`${s}:${l}`), new AbortController().signal);
    expect(code).toBe(3);
    expect(lines.filter((l) => l.startsWith("stdout:"))).toEqual(["stdout:out1", "stdout:out2"]);
    expect(lines).toContain("stderr:err:1:false");
  });

  test("aborting stops the child's process group", async () => {
    const ac = new AbortController();
    const lines: string[] = [];
    const run = selfRunner({ exec: systemExec }, [process.execPath, "-e", `console.log("ready"); setInterval(() => {}, 1000)`]);
    const p = run([], (l) => {
      lines.push(l);
      if (l === "ready") ac.abort();
    }, ac.signal);
    expect(await p).not.toBe(0);
    expect(lines).toEqual(["ready"]);
  });
});

describe("panes from the capabilities' core entry points (hermetic DEVX_HOME)", () => {
  const mkDeps = (exec: Exec = stubExec([], []).exec) => deps(exec);

  test("VMs: without any VM provider, the load fails with the provider's hint (shown as an error row)", async () => {
    const { vmSource } = await import("../../../tui/sources/live.ts");
    const err = await vmSource(mkDeps()).load(new AbortController().signal).catch((e) => e);
    expect(err.message).toContain("no VM provider found");
    expect(err.hint).toContain("install one");
  });

  test("Bridge: a live connect session on this machine is a row with its forward and traffic", async () => {
    const { writeSession, removeSession } = await import("../../../src/platform/sessions.ts");
    const { bridgeSource } = await import("../../../tui/sources/live.ts");
    const deps = mkDeps();
    const forward = { service: "api", namespace: "shop", port: "http", servicePort: 80, host: "127.0.0.1", hostPort: 18080, state: "ready", connections: 3, active: 1, bytesIn: 2048, bytesOut: 512 };
    await writeSession(deps.paths.state, "bridge", "tuitest", { mode: "connect", session: "tuitest", context: "dev", namespace: "shop", kube: {}, forwards: [forward], env: {} });
    try {
      const data = await bridgeSource(deps).load(new AbortController().signal);
      if (data.kind !== "rows") throw new Error("expected rows");
      expect(data.rows).toHaveLength(1);
      expect(data.rows[0]!.cells).toMatchObject({ mode: "connect", target: "shop/api:80", host: "127.0.0.1:18080", state: "ready", traffic: "1/3 conns ↓2.0 KiB ↑512 B" });
      expect(data.rows[0]!.tone).toBe("ok");
    } finally {
      await removeSession(deps.paths.state, "bridge", "tuitest");
    }
  });

  test("Snapshots and Services: empty, each with a note saying how to get some", async () => {
    const { snapshotsSource, servicesSource } = await import("../../../tui/sources/live.ts");
    const deps = mkDeps();
    expect(await snapshotsSource(deps).load(new AbortController().signal)).toMatchObject({ kind: "rows", rows: [], note: expect.stringContaining("devx db snapshot") });
    expect(await servicesSource(deps).load(new AbortController().signal)).toMatchObject({ kind: "rows", rows: [], note: expect.stringContaining("devx up is not running") });
  });

  test("Tunnels: without a Cloudflare account the load fails with the config hint, and it polls slower", async () => {
    const { tunnelsSource } = await import("../../../tui/sources/live.ts");
    const src = tunnelsSource(mkDeps());
    expect(src.refreshMs).toBeGreaterThanOrEqual(10_000);
    const err = await src.load(new AbortController().signal).catch((e) => e);
    expect(err.hint).toContain("account_id");
  });
});
