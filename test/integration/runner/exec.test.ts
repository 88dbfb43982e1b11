import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { FRAME, encodeFrame } from "../../../src/session/protocol/index.ts";
import { listProcesses } from "../../../src/runner/os.ts";
import { startInProcess, until, type Client, type TestRunner } from "./harness.ts";

/** Commands from argv on the real runner. */
let r: TestRunner;
beforeAll(async () => {
  r = await startInProcess();
});
afterAll(() => r.close());

const alive = (pid: number) => listProcesses().some((p) => p.pid === pid && p.state !== "Z");
const out = (c: Client, proc: number) => Buffer.from(c.bytes(FRAME.execStdout, proc)).toString();
const err = (c: Client, proc: number) => Buffer.from(c.bytes(FRAME.execStderr, proc)).toString();
const exitOf = (c: Client, proc: number, ms = 5000) => c.waitMessage((m) => m.t === "exec.exit" && m.proc === proc, ms, `command ${proc} to exit`);

describe("commands", () => {
  test("argv runs as given: stdout, stderr and the exit code come back separately", async () => {
    const c = await r.connect();
    const { proc } = (await c.ok("exec.run", { argv: ["sh", "-c", 'echo out; echo err >&2; printf "%s" "$1"; exit 3', "sh", "$(touch pwned); `id`"] })) as unknown as { proc: number };
    expect(await exitOf(c, proc)).toMatchObject({ code: 3, signal: null });
    expect(out(c, proc)).toBe("out\n$(touch pwned); `id`");
    expect(err(c, proc)).toBe("err\n");
    // user data in argv is never handed to a shell
    const { proc: p2 } = (await c.ok("exec.run", { argv: ["echo", "; touch pwned2", "&&", "rm", "-rf", "/"] })) as unknown as { proc: number };
    await exitOf(c, p2);
    expect(out(c, p2)).toBe("; touch pwned2 && rm -rf /\n");
    expect(existsSync(join(r.workspace, "pwned"))).toBe(false);
    expect(existsSync(join(r.workspace, "pwned2"))).toBe(false);
    expect(await c.request("exec.run", { argv: ["definitely-not-a-program-xyz"] })).toMatchObject({ t: "err", code: "not-found" });
    c.close();
  });

  test("cwd and env; stdin streams in and closes", async () => {
    const c = await r.connect();
    await c.ok("fs.mkdir", { path: "sub" });
    const { proc } = (await c.ok("exec.run", { argv: ["sh", "-c", 'pwd; echo "$GREETING"; cat; echo END'], cwd: "sub", env: { GREETING: "hi there" }, stdin: true })) as unknown as { proc: number };
    c.ws.send(encodeFrame(FRAME.execStdin, proc, new TextEncoder().encode("line one\n")));
    c.ws.send(encodeFrame(FRAME.execStdin, proc, new TextEncoder().encode("line two\n")));
    await c.ok("exec.stdin.end", { proc });
    expect(await exitOf(c, proc)).toMatchObject({ code: 0 });
    expect(out(c, proc)).toBe(`${join(r.workspace, "sub")}\nhi there\nline one\nline two\nEND\n`);
    c.close();
  });

  test("a foreground command ends with its socket, its children too", async () => {
    const c = await r.connect();
    const { pid } = (await c.ok("exec.run", { argv: ["sh", "-c", "sleep 300 & echo child=$!; wait"] })) as unknown as { proc: number; pid: number };
    const proc = ((await c.ok("exec.list")).procs as { proc: number; pid: number }[]).find((p) => p.pid === pid)!.proc;
    await until(() => /child=\d+/.exec(out(c, proc)));
    const child = Number(/child=(\d+)/.exec(out(c, proc))![1]);
    expect(alive(pid) && alive(child)).toBe(true);
    c.ws.close();
    await c.waitClosed();
    await until(() => !alive(pid) && !alive(child), 5000, "the command and its child to end");
  });

  test("a background command outlives its socket; another client attaches, sees its output and kills it", async () => {
    const a = await r.connect();
    const { proc, pid } = (await a.ok("exec.run", { argv: ["sh", "-c", "echo started; while :; do sleep 0.05; echo tick; done"], background: true })) as unknown as { proc: number; pid: number };
    await until(() => out(a, proc).includes("tick"));
    a.ws.close();
    await a.waitClosed();
    expect(alive(pid)).toBe(true);
    const b = await r.connect();
    await b.ok("exec.attach", { proc });
    await until(() => out(b, proc).startsWith("started\ntick") && out(b, proc).split("tick").length > 5, 5000, "the replay and more ticks");
    await b.ok("exec.kill", { proc });
    const exit = await exitOf(b, proc);
    expect(exit.code === null ? exit.signal : exit.code).toBeTruthy();
    expect(alive(pid)).toBe(false);
    const info = ((await b.ok("exec.list")).procs as { proc: number; exit?: unknown }[]).find((p) => p.proc === proc);
    expect(info?.exit).toBeDefined();
    b.close();
  });

  test("a signal reaches the command's process group; timeoutMs ends a command", async () => {
    const c = await r.connect();
    const { proc } = (await c.ok("exec.run", { argv: ["sh", "-c", "trap 'echo got-int; exit 9' INT; echo armed; while :; do sleep 0.05; done"] })) as unknown as { proc: number };
    await until(() => out(c, proc).includes("armed"));
    await c.ok("exec.kill", { proc, signal: "INT" });
    expect(await exitOf(c, proc)).toMatchObject({ code: 9 });
    expect(out(c, proc)).toContain("got-int");
    const t0 = Date.now();
    const { proc: slow } = (await c.ok("exec.run", { argv: ["sleep", "30"], timeoutMs: 300 })) as unknown as { proc: number };
    const exit = await exitOf(c, slow);
    expect(exit.code).toBeNull();
    expect(Date.now() - t0).toBeLessThan(5000);
    c.close();
  });

  test("a token without the exec scope cannot run, attach or kill", async () => {
    const owner = await r.connect();
    const { proc } = (await owner.ok("exec.run", { argv: ["sleep", "30"], background: true })) as unknown as { proc: number };
    const c = await r.connect({ scopes: ["terminal", "files"] });
    for (const [t, f] of [["exec.run", { argv: ["touch", "nope"] }], ["exec.attach", { proc }], ["exec.kill", { proc }], ["exec.list", {}]] as const) {
      expect(await c.request(t, f)).toMatchObject({ t: "err", code: "forbidden" });
    }
    c.ws.send(encodeFrame(FRAME.execStdin, proc, new Uint8Array([1])));
    await c.waitMessage((m) => m.t === "err" && m.code === "forbidden" && m.id === undefined);
    expect(existsSync(join(r.workspace, "nope"))).toBe(false);
    await owner.ok("exec.kill", { proc });
    owner.close();
    c.close();
  });
});
