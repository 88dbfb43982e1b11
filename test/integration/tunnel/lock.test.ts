import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { tunnelLockPath, withTunnelLock } from "../../../src/core/tunnel/lock.ts";
import { ConflictError } from "../../../src/errors.ts";
import type { DevxEvent } from "../../../src/events/types.ts";
import { until } from "./helpers.ts";

/** The per-tunnel lock between real processes: a live holder is waited for, a dead one's lock is taken over. */
const LOCK_MODULE = resolve(import.meta.dir, "../../../src/core/tunnel/lock.ts");

function stateDir(): string {
  const d = join(process.env.DEVX_TEST_ROOT!, `lock-${crypto.randomUUID().slice(0, 8)}`);
  mkdirSync(d, { recursive: true });
  return d;
}

/** Another devx process holding the lock until its stdin closes. */
async function holder(state: string, tunnelId: string) {
  const code = `import { withTunnelLock } from ${JSON.stringify(LOCK_MODULE)};
await withTunnelLock({ paths: { state: ${JSON.stringify(state)} }, emit() {} }, ${JSON.stringify(tunnelId)}, "tunnel expose web", async () => { console.log("held"); await Bun.stdin.text(); });`;
  const p = Bun.spawn([process.execPath, "-e", code], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const reader = p.stdout.getReader();
  let out = "";
  while (!out.includes("held")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the holder exited: ${out}`);
    out += new TextDecoder().decode(value);
  }
  return p;
}

describe("the per-tunnel lock", () => {
  test("waits for a live holder in another process, naming it, then runs", async () => {
    const state = stateDir();
    const p = await holder(state, "t1");
    const events: DevxEvent[] = [];
    let ran = false;
    const mine = withTunnelLock({ paths: { state }, emit: (e) => events.push(e) }, "t1", "tunnel gc", async () => {
      ran = true;
      return JSON.parse(readFileSync(tunnelLockPath(state, "t1"), "utf8"));
    });
    await until(() => events.length > 0, "the waiting notice");
    expect(events[0]).toEqual({ type: "info", message: `waiting for devx (pid ${p.pid}, tunnel expose web) to finish with tunnel t1` });
    expect(ran).toBe(false);
    p.stdin.end();
    const rec = await mine;
    expect(rec).toMatchObject({ pid: process.pid, host: hostname(), command: "tunnel gc" });
    expect(existsSync(tunnelLockPath(state, "t1"))).toBe(false);
  });

  test("takes over the lock of a holder that was killed", async () => {
    const state = stateDir();
    const p = await holder(state, "t2");
    p.kill("SIGKILL");
    await p.exited;
    expect(JSON.parse(readFileSync(tunnelLockPath(state, "t2"), "utf8")).pid).toBe(p.pid);
    const out = await withTunnelLock({ paths: { state }, emit() {} }, "t2", "tunnel expose api", async () => "ran");
    expect(out).toBe("ran");
  });

  test("a lock left by a dead PID is taken over by exactly one of several waiters at a time", async () => {
    const state = stateDir();
    const dead = Bun.spawnSync(["true"]).pid;
    mkdirSync(join(state, "locks"), { recursive: true });
    writeFileSync(tunnelLockPath(state, "t3"), JSON.stringify({ pid: dead, host: hostname(), nonce: "old", command: "tunnel expose x", since: "" }));
    let inside = 0;
    let most = 0;
    await Promise.all(
      [1, 2, 3, 4].map(() =>
        withTunnelLock({ paths: { state }, emit() {} }, "t3", "tunnel expose y", async () => {
          most = Math.max(most, ++inside);
          await new Promise((r) => setTimeout(r, 5));
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
  });

  test("gives up after its timeout with a conflict naming the holder", async () => {
    const state = stateDir();
    const p = await holder(state, "t4");
    try {
      const e = await withTunnelLock({ paths: { state }, emit() {} }, "t4", "tunnel gc", async () => "ran", 50).catch((x) => x);
      expect(e).toBeInstanceOf(ConflictError);
      expect(e.message).toBe(`devx (pid ${p.pid}, tunnel expose web) has been changing tunnel t4 for too long`);
    } finally {
      p.stdin.end();
      await p.exited;
    }
  });
});
