import { describe, expect, test } from "bun:test";
import { CLOSE, RUNNER_EXIT } from "../../../src/session/protocol/index.ts";
import { listProcesses } from "../../../src/runner/os.ts";
import { openShell, startInProcess, until } from "./harness.ts";

/**
 * Idle and lifetime stops on the real runner with short periods. An open socket that only answers
 * heartbeats is idle; keystrokes, commands and file writes are not.
 */
const alive = (pid: number) => listProcesses().some((p) => p.pid === pid && p.state !== "Z");

describe("idle stop", () => {
  test("fires with an idle tab open: clients are told, processes end, the runner exits with the idle code", async () => {
    const r = await startInProcess({ idleMs: 1500, idleWarnMs: 700, heartbeatMs: 100 });
    const c = await r.connect();
    const term = await openShell(c);
    const shell = ((await c.ok("term.list")).terminals as { pid: number }[])[0]!.pid;
    c.type(term, "sleep 600 & echo BG=$!\n");
    const bg = Number(/BG=(\d+)/.exec(await c.waitText(term, /BG=\d+/))![0].slice(3));
    const warn = await c.waitMessage((m) => m.t === "session.idle", 5000, "the idle warning");
    expect(warn.stopAt as number).toBeGreaterThan(Date.now());
    expect(await r.exited()).toBe(RUNNER_EXIT.idle);
    expect(c.messages.find((m) => m.t === "session.ending")).toEqual({ t: "session.ending", reason: "idle" });
    expect((await c.waitClosed()).code).toBe(CLOSE.sessionEnding);
    expect(alive(shell) || alive(bg)).toBe(false);
    // the socket was answering pings all along: heartbeats are not activity
    expect(r.handle!.session.activity.lastKind).toBe("input");
    await r.close();
  });

  test("does not fire while typing, and fires once typing stops", async () => {
    const r = await startInProcess({ idleMs: 1000, idleWarnMs: 300 });
    const c = await r.connect();
    const term = await openShell(c);
    const until3s = Date.now() + 3000;
    while (Date.now() < until3s) {
      c.type(term, "x");
      await Bun.sleep(150);
      expect(r.handle!.session.stopping).toBeUndefined();
    }
    const stoppedTyping = Date.now();
    expect(await r.exited()).toBe(RUNNER_EXIT.idle);
    expect(Date.now() - stoppedTyping).toBeGreaterThanOrEqual(900);
    await r.close();
  });

  test("reads do not count as activity; file writes and running commands do", async () => {
    const r = await startInProcess({ idleMs: 1000, idleWarnMs: 100 });
    const c = await r.connect();
    await c.ok("fs.write", { path: "f", data: "eA==" });
    const t0 = Date.now();
    // a foreground command keeps the session busy while it runs
    const { proc } = (await c.ok("exec.run", { argv: ["sleep", "1.8"] })) as unknown as { proc: number };
    await c.waitMessage((m) => m.t === "exec.exit" && m.proc === proc, 5000);
    expect(r.handle!.session.stopping).toBeUndefined();
    // writes keep it going
    while (Date.now() - t0 < 3000) {
      await c.ok("fs.write", { path: "f", data: "eQ==" });
      await Bun.sleep(200);
    }
    expect(r.handle!.session.stopping).toBeUndefined();
    // reads, listings and pings alone do not
    const idleFrom = Date.now();
    let stopped = false;
    while (!stopped && Date.now() - idleFrom < 5000) {
      const res = await c.request("fs.list", { path: "" });
      await c.request("ping");
      stopped = res.t !== "ok" || r.handle!.session.stopping !== undefined;
      await Bun.sleep(100);
    }
    expect(stopped).toBe(true);
    expect(await r.exited()).toBe(RUNNER_EXIT.idle);
    await r.close();
  });

  test("the maximum lifetime ends a busy session", async () => {
    const r = await startInProcess({ idleMs: 60_000, maxLifetimeMs: 1500 });
    const c = await r.connect();
    const term = await openShell(c);
    const typing = setInterval(() => c.type(term, "y"), 100);
    try {
      expect(await r.exited()).toBe(RUNNER_EXIT.lifetime);
    } finally {
      clearInterval(typing);
    }
    expect(c.messages.find((m) => m.t === "session.ending")).toEqual({ t: "session.ending", reason: "lifetime" });
    await until(() => c.closed);
    await r.close();
  });

  test("the control plane stops the session on request", async () => {
    const r = await startInProcess();
    const c = await r.connect();
    await openShell(c);
    const res = await fetch(`${r.url}/v1/admin/stop`, { method: "POST", headers: { authorization: `Bearer ${r.token({ scopes: ["admin"] })}` } });
    expect(res.status).toBe(202);
    expect(await r.exited()).toBe(RUNNER_EXIT.stopped);
    expect(c.messages.find((m) => m.t === "session.ending")).toEqual({ t: "session.ending", reason: "stopped" });
    await r.close();
  });
});
