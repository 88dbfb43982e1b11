import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdirSync, readlinkSync } from "node:fs";
import { FRAME } from "../../../src/session/protocol/index.ts";
import { listProcesses } from "../../../src/runner/os.ts";
import { openShell, startInProcess, until, type TestRunner } from "./harness.ts";

/** Real bash in real PTYs behind the in-process runner. */
let r: TestRunner;
beforeAll(async () => {
  r = await startInProcess();
});
afterAll(() => r.close());

const alive = (pid: number) => listProcesses().some((p) => p.pid === pid && p.state !== "Z");
const ptmxCount = () =>
  readdirSync("/proc/self/fd").filter((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`) === "/dev/ptmx";
    } catch {
      return false;
    }
  }).length;

describe("terminals", () => {
  test("bash runs in a PTY: typing, output, resize, exit status", async () => {
    const c = await r.connect();
    const term = await openShell(c);
    c.type(term, "tty; stty size\n");
    await c.waitText(term, /\/dev\/pts\/\d+\r\n40 120/);
    await c.ok("term.resize", { term, cols: 91, rows: 17 });
    c.type(term, "stty size\n");
    await c.waitText(term, "17 91");
    c.type(term, "exit 7\n");
    const exit = await c.waitMessage((m) => m.t === "term.exit" && m.term === term);
    expect(exit).toMatchObject({ code: 7, signal: null });
    const list = await c.ok("term.list");
    expect((list.terminals as { term: number; exit?: unknown }[]).find((t) => t.term === term)?.exit).toEqual({ code: 7, signal: null });
    expect(c.invalid).toEqual([]);
    c.close();
  });

  test("a terminal survives a dropped socket; reattach replays the scrollback and continues", async () => {
    const a = await r.connect();
    const term = await openShell(a);
    a.type(term, "echo MARK-$((1+1)); (for i in 1 2 3 4 5; do echo tick-$i; sleep 0.1; done) \n");
    await a.waitText(term, "MARK-2");
    const seenByA = a.text(term);
    a.ws.close(); // dropped: the terminal keeps running and producing output
    await a.waitClosed();

    const b = await r.connect();
    const att = await b.ok("term.attach", { term });
    expect(att).toMatchObject({ from: 0, truncated: false, cols: 120, rows: 40 });
    await b.waitText(term, "tick-5");
    const replay = b.text(term);
    expect(replay.startsWith(seenByA)).toBe(true);
    b.type(term, "echo AFTER-$((3*3))\n");
    await b.waitText(term, "AFTER-9");

    // resuming from an offset sends only what came after it
    const c = await r.connect();
    const end = Buffer.byteLength(b.text(term));
    await c.ok("term.attach", { term, since: end });
    b.type(term, "echo ONLY-NEW\n");
    await c.waitText(term, "ONLY-NEW");
    expect(c.text(term)).not.toContain("MARK-2");
    b.close();
    c.close();
  });

  test("two clients on one session do not disturb each other, and can share a terminal", async () => {
    const a = await r.connect();
    const b = await r.connect();
    const ta = await openShell(a);
    const tb = await openShell(b);
    await b.ok("term.attach", { term: ta });
    a.type(ta, "echo FROM-A-$((2+2))\n");
    await a.waitText(ta, "FROM-A-4");
    await b.waitText(ta, "FROM-A-4");
    b.type(ta, "echo FROM-B-$((5+5))\n");
    await a.waitText(ta, "FROM-B-10");

    // the second tab goes away: the first tab's terminal is untouched, and so is the second's
    b.ws.close();
    await b.waitClosed();
    a.type(ta, "echo STILL-$((7*6))\n");
    await a.waitText(ta, "STILL-42");
    const list = (await a.ok("term.list")).terminals as { term: number; pid: number; exit?: unknown; attached: number }[];
    expect(list.find((t) => t.term === ta)).toMatchObject({ attached: 1 });
    const tbInfo = list.find((t) => t.term === tb)!;
    expect(tbInfo.exit).toBeUndefined();
    expect(alive(tbInfo.pid)).toBe(true);
    // a's own output never carried b's terminal
    expect(a.frames(FRAME.termOutput, tb)).toEqual([]);
    a.close();
  });

  test("multibyte output is never cut across frames", async () => {
    const c = await r.connect();
    const term = await openShell(c);
    // 3- and 4-byte characters in amounts that make the PTY's reads end inside characters
    c.type(term, "for i in $(seq 1 3000); do printf '€😀日'; done; echo; echo MB-$((1+1))-DONE\n");
    await c.waitText(term, "MB-2-DONE", 15000);
    const strict = new TextDecoder("utf-8", { fatal: true });
    const frames = c.frames(FRAME.termOutput, term);
    expect(frames.length).toBeGreaterThan(1);
    for (const f of frames) expect(() => strict.decode(f)).not.toThrow();
    expect(c.text(term).includes("€😀日".repeat(3000))).toBe(true);
    c.close();
  });

  test("scrollback of at least 1 MiB is replayed to a new client", async () => {
    const c = await r.connect();
    const term = await openShell(c);
    c.type(term, "seq -f 'line-%07g' 1 150000; echo SB-$((2+2))-END\n"); // ~1.9 MB of output
    await c.waitText(term, "SB-4-END", 20000);
    const d = await r.connect();
    const att = await d.ok("term.attach", { term });
    await d.waitText(term, "SB-4-END", 10000);
    const replay = d.text(term);
    expect(Buffer.byteLength(replay)).toBeGreaterThanOrEqual(1024 * 1024);
    expect(att.truncated).toBe(false); // no offset asked: the oldest held byte is the start
    // the replay is the exact tail of what the first client saw
    expect(c.text(term).endsWith(replay)).toBe(true);
    c.close();
    d.close();
  });

  test("closing a terminal ends its whole process tree, background jobs included, and frees the PTY", async () => {
    const before = ptmxCount();
    const c = await r.connect();
    const term = await openShell(c);
    expect(ptmxCount()).toBeGreaterThan(before);
    c.type(term, "sleep 1001 & echo BG=$!; (setsid sleep 1002 & echo SS=$!; wait) & nohup sleep 1003 >/dev/null 2>&1 & echo NH=$!\n");
    const out = await c.waitText(term, /NH=\d+/);
    await c.waitText(term, /SS=\d+/);
    const text = c.text(term);
    const pids = ["BG", "SS", "NH"].map((k) => Number(new RegExp(`${k}=(\\d+)`).exec(text)![1]));
    expect(out).toBeTruthy();
    for (const pid of pids) expect(alive(pid)).toBe(true);
    const shell = ((await c.ok("term.list")).terminals as { term: number; pid: number }[]).find((t) => t.term === term)!.pid;
    await c.ok("term.close", { term });
    for (const pid of [shell, ...pids]) expect(alive(pid)).toBe(false);
    expect(ptmxCount()).toBe(before);
    expect(((await c.ok("term.list")).terminals as { term: number }[]).some((t) => t.term === term)).toBe(false);
    c.close();
  });

  test("a shell that exits frees its PTY; a dropped socket leaks nothing", async () => {
    const c = await r.connect();
    const t1 = await openShell(c);
    const one = ptmxCount();
    await openShell(c);
    const two = ptmxCount();
    expect(two).toBeGreaterThan(one);
    c.type(t1, "exit\n");
    await c.waitMessage((m) => m.t === "term.exit" && m.term === t1);
    await until(() => ptmxCount() === one, 3000, "the exited shell's PTY to close");
    c.ws.close();
    await c.waitClosed();
    // the other terminal is the session's: it stays, with its PTY
    expect(ptmxCount()).toBe(one);
  });

  test("terminal requests are validated and refused with a reason", async () => {
    const c = await r.connect();
    expect(await c.request("term.attach", { term: 9999 })).toMatchObject({ t: "err", code: "not-found" });
    expect(await c.request("term.open", { cols: 0 })).toMatchObject({ t: "err", code: "bad-request" });
    expect(await c.request("term.open", { cwd: "../.." })).toMatchObject({ t: "err", code: "escape" });
    c.type(9999, "x");
    await c.waitMessage((m) => m.t === "err" && m.code === "not-found" && String(m.message).includes("9999"));
    c.close();
  });
});
