import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CLOSE, RUNNER_EXIT, encodeSecret, generateSecret } from "../../../src/session/protocol/index.ts";
import { listProcesses } from "../../../src/runner/os.ts";
import { ensureBinary } from "../../support/binary.ts";
import { openShell, startBinary } from "./harness.ts";

/** `devx runner` as the compiled binary, in a subprocess, the way the control plane starts it. */
const alive = (pid: number) => listProcesses().some((p) => p.pid === pid && p.state !== "Z");
const ptmxOf = (pid: number) =>
  readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`) === "/dev/ptmx";
    } catch {
      return false;
    }
  }).length;

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("devx runner (compiled binary)", () => {
  test("serves terminals; a dropped socket keeps them; closing them leaks no PTY; SIGTERM exits 0 and ends every process", async () => {
    const r = await startBinary();
    const pid = r.proc!.pid;
    const a = await r.connect();
    const t1 = await openShell(a);
    const t2 = await openShell(a);
    a.type(t1, "echo BIN-$((20+22))\n");
    await a.waitText(t1, "BIN-42");
    expect(ptmxOf(pid)).toBeGreaterThan(0);
    a.ws.close();
    await a.waitClosed();
    const b = await r.connect();
    await b.ok("term.attach", { term: t1 });
    await b.waitText(t1, "BIN-42");
    const shells = ((await b.ok("term.list")).terminals as { pid: number }[]).map((t) => t.pid);
    await b.ok("term.close", { term: t1 });
    await b.ok("term.close", { term: t2 });
    expect(ptmxOf(pid)).toBe(0);
    for (const s of shells) expect(alive(s)).toBe(false);
    const t3 = await openShell(b);
    b.type(t3, "sleep 500 & echo BG=$!\n");
    const bg = Number(/BG=(\d+)/.exec(await b.waitText(t3, /BG=\d+/))![1]);
    r.proc!.kill("SIGTERM");
    expect(await r.exited()).toBe(RUNNER_EXIT.stopped);
    expect(b.messages.find((m) => m.t === "session.ending")).toEqual({ t: "session.ending", reason: "stopped" });
    expect((await b.waitClosed()).code).toBe(CLOSE.sessionEnding);
    expect(alive(bg)).toBe(false);
    expect(listProcesses().filter((p) => p.ppid === pid && p.state !== "Z")).toEqual([]);
    await r.close();
  }, 60000);

  test("an idle runner exits with the idle code; one past its lifetime with the lifetime code", async () => {
    const idle = await startBinary(["--idle", "1s", "--idle-warning", "500ms", "--heartbeat", "200ms"]);
    const c = await idle.connect();
    await openShell(c);
    expect(await idle.exited()).toBe(RUNNER_EXIT.idle);
    expect(c.messages.some((m) => m.t === "session.idle")).toBe(true);
    await idle.close();
    const old = await startBinary(["--max-lifetime", "1s"]);
    expect(await old.exited()).toBe(RUNNER_EXIT.lifetime);
    await old.close();
  }, 30000);

  test("the secret: never in argv or the environment; a secret file must be private and is consumed", async () => {
    const r = await startBinary();
    const pid = r.proc!.pid;
    const hex = encodeSecret(r.secret);
    expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).not.toContain(hex);
    expect(readFileSync(`/proc/${pid}/environ`, "utf8")).not.toContain(hex);
    const c = await r.connect();
    const term = await openShell(c);
    c.type(term, "tr '\\0' '\\n' < /proc/$$/environ | grep -c . ; echo ENV-$((1+1))-DONE\n");
    await c.waitText(term, "ENV-2-DONE");
    expect(c.text(term)).not.toContain(hex);
    await r.close();

    const dir = mkdtempSync(join(tmpdir(), "devx-secret-"));
    dirs.push(dir);
    const file = join(dir, "secret");
    writeFileSync(file, encodeSecret(generateSecret()));
    chmodSync(file, 0o644);
    const bin = ensureBinary();
    const loose = Bun.spawnSync([bin, "runner", "--session", "s1", "--workspace", dir, "--listen", "127.0.0.1:0", "--secret-file", file], { stderr: "pipe", stdout: "pipe" });
    expect(loose.exitCode).toBe(6);
    expect(loose.stderr.toString()).toMatch(/readable or writable by others \(mode 644\)/);
    expect(loose.stderr.toString()).toMatch(/hint: /);
    expect(existsSync(file)).toBe(true);

    chmodSync(file, 0o600);
    const p = Bun.spawn([bin, "runner", "--session", "s1", "--workspace", dir, "--listen", "127.0.0.1:0", "--secret-file", file], { stderr: "pipe", stdout: "pipe" });
    const reader = p.stdout.getReader();
    const { value } = await reader.read();
    expect(JSON.parse(new TextDecoder().decode(value))).toMatchObject({ ready: true, protocol: 1 });
    expect(existsSync(file)).toBe(false);
    p.kill("SIGTERM");
    expect(await p.exited).toBe(0);
  }, 60000);

  test("processes of the runner's own user cannot read its memory or environment", async () => {
    const asNobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"];
    const ws = mkdtempSync(join(tmpdir(), "devx-nobody-"));
    dirs.push(ws);
    chownSync(ws, 65534, 65534);
    const r = await startBinary([], { workspace: ws, wrap: asNobody });
    const c = await r.connect();
    const term = await openShell(c);
    const shell = ((await c.ok("term.list")).terminals as { pid: number }[])[0]!.pid;
    const read = (pid: number, what: string) => Bun.spawnSync([...asNobody, "cat", `/proc/${pid}/${what}`], { stdout: "pipe", stderr: "pipe" }).exitCode;
    // same user: its shell's environment is readable, the runner's environment and memory are not
    expect(read(shell, "environ")).toBe(0);
    expect(read(r.proc!.pid, "environ")).not.toBe(0);
    expect(read(r.proc!.pid, "mem")).not.toBe(0);
    c.type(term, "echo SAME-USER-$(id -u)\n");
    await c.waitText(term, "SAME-USER-65534");
    await r.close();
  }, 30000);

  test("bad start-up flags fail with a usage error and a hint", () => {
    const bin = ensureBinary();
    const run = (args: string[]) => Bun.spawnSync([bin, "runner", ...args], { stderr: "pipe", stdout: "pipe", stdin: new Blob([encodeSecret(generateSecret())]) });
    const noSession = run(["--secret-stdin"]);
    expect(noSession.exitCode).toBe(2);
    expect(noSession.stderr.toString()).toContain("--session");
    const both = run(["--session", "s1", "--secret-stdin", "--secret-file", "/x"]);
    expect(both.exitCode).toBe(2);
    const badIdle = run(["--session", "s1", "--secret-stdin", "--idle", "soon"]);
    expect(badIdle.exitCode).toBe(2);
    expect(badIdle.stderr.toString()).toContain("--idle");
    const shortSecret = Bun.spawnSync([bin, "runner", "--session", "s1", "--secret-stdin", "--listen", "127.0.0.1:0"], { stderr: "pipe", stdin: new Blob(["abcd"]) });
    expect(shortSecret.exitCode).toBe(6);
    // hidden from help, present as a role
    const help = Bun.spawnSync([bin, "--help"], { stdout: "pipe" });
    expect(help.stdout.toString()).not.toMatch(/^\s+runner\s/m);
  });
});
