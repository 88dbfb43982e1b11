import { describe, expect, test } from "bun:test";
import type { Exec, ExecResult } from "../../../src/platform/exec.ts";
import { containerLogTail, listDevxContainers } from "../../../src/core/dashboard/containers.ts";
import { containersSource, defaultSources } from "../../../tui/sources/index.ts";
import { LogStore } from "../../../tui/sources/log-store.ts";
import { selfArgv, selfRunner } from "../../../tui/main.tsx";
import { systemExec } from "../../../src/platform/exec.ts";
import { createDeps } from "../../../src/cli/deps.ts";
import { globalOptions } from "../../../src/cli/define.ts";
import { memoryIO } from "../../../src/cli/io.ts";
import * as v from "valibot";

/** A strict exec stub: only the listed binaries exist, only the listed argv run, each must be used. */
function stubExec(bins: string[], calls: Array<{ argv: string[]; stdout?: string; stderr?: string; code?: number }>) {
  const pending = [...calls];
  const exec: Exec = {
    which: (b) => (bins.includes(b) ? `/usr/bin/${b}` : null),
    async run(argv): Promise<ExecResult> {
      const i = pending.findIndex((c) => JSON.stringify(c.argv) === JSON.stringify(argv));
      if (i < 0) throw new Error(`unexpected command: ${argv.join(" ")}`);
      const [c] = pending.splice(i, 1);
      return { argv, code: c!.code ?? 0, stdout: c!.stdout ?? "", stderr: c!.stderr ?? "", timedOut: false };
    },
    spawn() {
      throw new Error("unexpected spawn");
    },
  };
  return { exec, done: () => expect(pending.map((c) => c.argv.join(" "))).toEqual([]) };
}

// recorded from `podman ps -a --format json --filter label=devx.managed=true` (podman 4.3)
const PODMAN_PS = JSON.stringify([
  {
    Id: "6172539bc58fcde1469bd19a34a72f6796bc63fa371e7d198185dbdb4fbab342",
    Image: "localhost/devx-test-busybox:1",
    Labels: { "devx.kind": "service", "devx.managed": "true", "devx.project": "shop" },
    Names: ["shop-web"],
    Ports: [{ host_ip: "127.0.0.1", container_port: 80, host_port: 18942, range: 1, protocol: "tcp" }],
    State: "running",
    Status: "Up 2 minutes",
    Created: 1795426277,
  },
  { Id: "aaaaaaaaaaaaaaaa", Image: "docker.io/library/postgres:16", Labels: { "devx.kind": "database", "devx.managed": "true", "devx.project": "shop" }, Names: ["shop-db"], Ports: null, State: "exited", Status: "Exited (0) 1 minute ago", Created: 1795426000 },
]);
const PS = ["podman", "ps", "-a", "--format", "json", "--filter", "label=devx.managed=true"];

describe("containers data function", () => {
  test("podman: devx-labelled containers by name, with kind, project, ports", async () => {
    const { exec, done } = stubExec(["podman"], [{ argv: PS, stdout: PODMAN_PS }]);
    const l = await listDevxContainers({ exec });
    done();
    expect(l.runtime).toBe("podman");
    expect(l.containers.map((c) => [c.name, c.kind, c.project, c.state, c.ports, c.id])).toEqual([
      ["shop-db", "database", "shop", "exited", "", "aaaaaaaaaaaa"],
      ["shop-web", "service", "shop", "running", "127.0.0.1:18942->80/tcp", "6172539bc58f"],
    ]);
  });

  test("docker when podman is absent (one JSON object per line, labels as k=v,k=v)", async () => {
    const line = JSON.stringify({ ID: "0123456789abcdef", Names: "shop-redis", Image: "redis:7", State: "running", Status: "Up 1 second", Labels: "devx.managed=true,devx.kind=database,devx.project=shop", Ports: "127.0.0.1:6379->6379/tcp" });
    const { exec, done } = stubExec(["docker"], [{ argv: ["docker", "ps", "-a", "--format", "{{json .}}", "--filter", "label=devx.managed=true"], stdout: line + "\n" }]);
    const l = await listDevxContainers({ exec });
    done();
    expect(l.containers[0]).toMatchObject({ name: "shop-redis", kind: "database", project: "shop", ports: "127.0.0.1:6379->6379/tcp" });
  });

  test("no runtime, or a failing one: a ProviderError with a hint", async () => {
    await expect(listDevxContainers({ exec: stubExec([], []).exec })).rejects.toMatchObject({ kind: "provider", message: "no container runtime found (podman or docker)" });
    const { exec } = stubExec(["podman"], [{ argv: PS, code: 125, stderr: "Error: cannot connect to the service" }]);
    const err = await listDevxContainers({ exec }).catch((e) => e);
    expect(err.kind).toBe("provider");
    expect(err.message).toContain("cannot connect to the service");
    expect(err.hint).toContain("podman ps");
  });

  test("the pane: rows from the listing, drill-in shows the log tail from the same runtime", async () => {
    const { exec, done } = stubExec(["podman"], [
      { argv: PS, stdout: PODMAN_PS },
      { argv: ["podman", "logs", "--tail", "50", "6172539bc58f"], stdout: "listening on :80\n" },
    ]);
    const src = containersSource({ exec });
    const data = await src.load(new AbortController().signal);
    if (data.kind !== "rows") throw new Error("expected rows");
    expect(data.rows.map((r) => [r.cells.name, r.tone])).toEqual([
      ["shop-db", "dim"],
      ["shop-web", "ok"],
    ]);
    expect(await src.detail!(data.rows[1]!, new AbortController().signal)).toEqual(["last log lines:", "  listening on :80"]);
    done();
  });

  test("log tail keeps stdout then stderr lines", async () => {
    const { exec } = stubExec(["podman"], [{ argv: ["podman", "logs", "--tail", "5", "x"], stdout: "a\nb\n", stderr: "c\n" }]);
    expect(await containerLogTail({ exec }, "podman", "x", 5)).toEqual(["a", "b", "c"]);
  });

  test("every pane of the product is in the sidebar, in order; an unbuilt one says so", async () => {
    const sources = defaultSources(createDeps(v.parse(globalOptions, {}), { exec: stubExec([], []).exec, io: memoryIO() }), new LogStore());
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
  const mkDeps = (exec: Exec = stubExec([], []).exec) => createDeps(v.parse(globalOptions, {}), { exec, io: memoryIO(), cwd: process.env.DEVX_TEST_ROOT! });

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
