import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { CLOSE, FRAME, encodeFrame } from "../../../src/session/protocol/index.ts";
import { startInProcess, until, upload, type TestRunner } from "./harness.ts";
import { RawClient } from "./raw-ws.ts";

/** Flow control, ordering and heartbeats on the real runner, with a raw TCP client that can stall. */
let r: TestRunner;
beforeAll(async () => {
  r = await startInProcess();
});
afterAll(() => r.close());

const enc = new TextEncoder();

describe("flow control", () => {
  test("a client that stops reading loses no byte: the PTY is paused, then resumes", async () => {
    const slow = await RawClient.open(r.port, r.token());
    const lines = 2_500_000; // ~21 MB through the PTY: more than every socket buffer on the way
    slow.request("term.open", { argv: ["bash", "--norc", "--noprofile", "-c", `read go; seq 1 ${lines}; echo FLOW-$((4+4))-END; exec sleep 60`] });
    const opened = await until(() => slow.messages.find((m) => m.t === "ok"), 5000, "term.open");
    const term = opened.term as number;
    // a second, fast client on the same terminal
    const fast = await r.connect();
    await fast.ok("term.attach", { term });

    slow.pause();
    slow.sendBinary(encodeFrame(FRAME.termInput, term, enc.encode("go\n")));
    const t = r.handle!.session.terminals.get(term)!;
    await until(() => t.output.paused, 30000, "the terminal's output to be paused");
    // what was already in the PTY's buffer still arrives; then the program cannot write any more
    let end = -1;
    while (t.output.end !== end) {
      end = t.output.end;
      await Bun.sleep(150);
    }
    await Bun.sleep(500);
    expect(t.output.paused).toBe(true);
    expect(t.output.end).toBe(end);
    expect(t.output.end).toBeLessThan(lines * 6);
    // the fast client got everything produced so far, the slow one is behind
    expect(fast.bytes(FRAME.termOutput, term).length).toBeGreaterThanOrEqual(end - 2 * 1024 * 1024);

    slow.resume();
    await until(() => slow.tail(FRAME.termOutput, term).includes("FLOW-8-END"), 60000, "all output to reach the slow client");
    await fast.waitText(term, "FLOW-8-END", 10000);
    expect(t.output.paused).toBe(false);
    for (const got of [slow.bytes(FRAME.termOutput, term), fast.bytes(FRAME.termOutput, term)]) {
      const text = got.toString().replace(/\r/g, "");
      const start = text.indexOf("1\n2\n3\n");
      const stop = text.indexOf("FLOW-8-END");
      const nums = text.slice(start, stop).trimEnd().split("\n");
      expect(nums.length).toBe(lines);
      let bad = -1;
      for (let i = 0; i < lines && bad < 0; i++) if (nums[i] !== String(i + 1)) bad = i;
      expect(bad).toBe(-1);
    }
    slow.destroy();
    fast.close();
  }, 120000);

  test("an upload within its credit is written whole; sending past the window closes the socket", async () => {
    const c = await r.connect();
    const data = randomBytes(5 * 1024 * 1024 + 123);
    const end = await upload(c, "big.bin", data);
    expect(end).toMatchObject({ bytes: data.length, sha256: createHash("sha256").update(data).digest("hex") });
    const back = await Bun.file(`${r.workspace}/big.bin`).bytes();
    expect(Buffer.from(back).equals(data)).toBe(true);

    const open = await c.ok("fs.write", { path: "greedy.bin" });
    const window = open.window as number;
    c.ws.send(encodeFrame(FRAME.streamData, open.stream as number, new Uint8Array(window + 1)));
    expect((await c.waitClosed()).code).toBe(CLOSE.protocolError);
    // nothing half-written is left behind, not even the temporary file
    await until(() => !require("node:fs").readdirSync(r.workspace).some((n: string) => n.includes("greedy")), 3000, "the partial upload to be removed");
  });

  test("a client that floods a terminal that is not reading is disconnected, not buffered without bound", async () => {
    const c = await r.connect();
    const term = (await c.ok("term.open", { argv: ["sleep", "60"] })).term as number;
    const mb = new Uint8Array(1024 * 1024 - 16).fill(97);
    for (let i = 0; i < 40 && !c.closed; i++) c.ws.send(encodeFrame(FRAME.termInput, term, mb));
    expect((await c.waitClosed(10000)).code).toBe(CLOSE.protocolError);
    expect(c.messages.some((m) => m.t === "err" && m.code === "flow")).toBe(true);
    const d = await r.connect();
    await d.ok("term.close", { term });
    d.close();
  });

  test("replies come in request order, even when an earlier request takes longer", async () => {
    const c = await r.connect();
    const term = (await c.ok("term.open", { argv: ["bash", "--norc", "-c", "trap '' HUP; echo ARMED; sleep 100"] })).term as number;
    await c.waitText(term, "ARMED");
    const ids: number[] = [];
    const closing = c.request("term.close", { term }); // ignores SIGHUP: waits for the SIGKILL grace
    const pinged = c.request("ping");
    const writes = Array.from({ length: 50 }, (_, i) => c.request("fs.write", { path: "order.txt", data: Buffer.from(`v${i}`).toString("base64") }));
    for (const p of [closing, pinged, ...writes]) ids.push((await p).id as number);
    const replies = c.messages.filter((m) => m.t === "ok" && ids.includes(m.id as number)).map((m) => m.id);
    expect(replies).toEqual(ids);
    expect(await Bun.file(`${r.workspace}/order.txt`).text()).toBe("v49");
    c.close();
  });
});

describe("heartbeats", () => {
  test("a client that never answers pings is closed after the timeout; one that answers stays", async () => {
    const r = await startInProcess({ heartbeatMs: 100, heartbeatTimeoutMs: 600 });
    const dead = await RawClient.open(r.port, r.token(), { autoPong: false });
    const live = await RawClient.open(r.port, r.token(), { autoPong: true });
    await until(() => dead.closed !== undefined, 5000, "the silent client to be closed");
    expect(dead.closed).toBe(CLOSE.heartbeatTimeout);
    expect(dead.pings).toBeGreaterThanOrEqual(3);
    await until(() => live.pings >= 10, 5000, "ten pings to the live client");
    expect(live.closed).toBeUndefined();
    dead.destroy();
    live.destroy();
    await r.close();
  });
});
