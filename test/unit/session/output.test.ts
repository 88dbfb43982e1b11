import { describe, expect, test } from "bun:test";
import { FRAME, FRAME_HEADER } from "../../../src/session/protocol/index.ts";
import { OutputChannel, type Sink } from "../../../src/runner/output.ts";
import { incompleteTail, Utf8Carry } from "../../../src/runner/utf8.ts";

const enc = new TextEncoder();
const strict = new TextDecoder("utf-8", { fatal: true });

class TestSink implements Sink {
  frames: Uint8Array[] = [];
  blocked = false;
  congested() {
    return this.blocked;
  }
  send(frame: Uint8Array) {
    expect(frame[0]).toBe(FRAME.termOutput);
    this.frames.push(frame.subarray(FRAME_HEADER));
  }
  /** every frame must decode on its own: no character cut in two */
  text(): string {
    return this.frames.map((f) => strict.decode(f)).join("");
  }
  bytes(): number {
    return this.frames.reduce((n, f) => n + f.length, 0);
  }
}

function channel(o: Partial<{ scrollback: number; maxLag: number }> = {}) {
  const flow: string[] = [];
  const ch = new OutputChannel({ kind: FRAME.termOutput, channel: 1, scrollback: o.scrollback ?? 1 << 20, maxLag: o.maxLag ?? 256 * 1024, pause: () => flow.push("pause"), resume: () => flow.push("resume") });
  return { ch, flow };
}

describe("UTF-8 boundaries", () => {
  test("incompleteTail finds a started character, ignores complete ones and non-UTF-8", () => {
    const euro = enc.encode("€"); // e2 82 ac
    const emoji = enc.encode("😀"); // f0 9f 98 80
    expect(incompleteTail(enc.encode("abc"))).toBe(0);
    expect(incompleteTail(euro)).toBe(0);
    expect(incompleteTail(euro.subarray(0, 1))).toBe(1);
    expect(incompleteTail(euro.subarray(0, 2))).toBe(2);
    expect(incompleteTail(emoji.subarray(0, 3))).toBe(3);
    expect(incompleteTail(emoji)).toBe(0);
    expect(incompleteTail(new Uint8Array([0x80, 0x80, 0x80, 0x80]))).toBe(0);
    expect(incompleteTail(new Uint8Array([0xff]))).toBe(0);
  });

  test("Utf8Carry: every split point of a multibyte text yields whole characters", () => {
    const text = "a€b😀c日本語z";
    const bytes = enc.encode(text);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const c = new Utf8Carry();
      const parts = [c.push(bytes.subarray(0, cut)), c.push(bytes.subarray(cut)), c.flush()];
      expect(parts.map((p) => strict.decode(p)).join("")).toBe(text);
    }
  });
});

describe("OutputChannel", () => {
  test("a chunk split inside characters reaches sinks as whole characters, large output cut between characters", () => {
    const { ch } = channel();
    const sink = new TestSink();
    ch.attach(sink);
    const text = "€".repeat(100_000) + "😀".repeat(30_000);
    const bytes = enc.encode(text);
    // cut the stream at odd positions, as PTY reads do
    for (let i = 0; i < bytes.length; i += 4097) ch.push(bytes.subarray(i, Math.min(bytes.length, i + 4097)));
    ch.finish();
    expect(sink.text()).toBe(text);
    expect(Math.max(...sink.frames.map((f) => f.length))).toBeLessThanOrEqual(64 * 1024);
  });

  test("replay on attach: from the start, from an offset, and truncated when the ring moved on", () => {
    const { ch } = channel({ scrollback: 128 * 1024 });
    for (let i = 0; i < 40; i++) ch.push(enc.encode(`line ${i} ${"€".repeat(2000)}\n`));
    const all = new TestSink();
    const r = ch.attach(all, 0);
    ch.pump(all);
    expect(r.truncated).toBe(true);
    expect(r.from).toBeGreaterThan(0);
    expect(ch.end - r.from).toBeGreaterThanOrEqual(128 * 1024);
    // the replay starts on a character even though the ring was cut in the middle of one
    expect(all.text().endsWith(`line 39 ${"€".repeat(2000)}\n`)).toBe(true);
    const tail = new TestSink();
    const r2 = ch.attach(tail, ch.end - 10);
    ch.pump(tail);
    expect(r2).toEqual({ from: ch.end - 10, truncated: false });
    expect(tail.text()).toBe("€€€\n");
    // an offset inside a character moves to the next one
    const mid = new TestSink();
    expect(ch.attach(mid, ch.end - 12).from).toBe(ch.end - 10);
    ch.pump(mid);
    expect(mid.text()).toBe("€€€\n");
  });

  test("a congested sink is skipped, catches up from the ring without loss, and pauses the producer when it lags", async () => {
    const { ch, flow } = channel({ maxLag: 100_000 });
    const fast = new TestSink();
    const slow = new TestSink();
    ch.attach(fast);
    ch.attach(slow);
    slow.blocked = true;
    let sent = "";
    for (let i = 0; i < 3000; i++) {
      const line = `${i} ${"x".repeat(40)}\n`;
      sent += line;
      ch.push(enc.encode(line));
    }
    expect(flow).toEqual(["pause"]);
    expect(ch.paused).toBe(true);
    // the fast sink was not held back by the slow one (output is coalesced for a few ms)
    while (fast.bytes() < sent.length) await Bun.sleep(1);
    expect(fast.text()).toBe(sent);
    expect(slow.bytes()).toBe(0);
    slow.blocked = false;
    ch.pump(slow);
    expect(slow.text()).toBe(sent);
    expect(flow).toEqual(["pause", "resume"]);
  });

  test("never evicts what an attached sink has not been sent", () => {
    const { ch } = channel({ scrollback: 64 * 1024, maxLag: 10 * 1024 * 1024 });
    const slow = new TestSink();
    ch.attach(slow);
    slow.blocked = true;
    let sent = 0;
    for (let i = 0; i < 100; i++) {
      ch.push(new Uint8Array(10_000).fill(97));
      sent += 10_000;
    }
    slow.blocked = false;
    ch.pump(slow);
    expect(slow.bytes()).toBe(sent);
    // once sent, the excess is dropped down to the scrollback
    expect(ch.end - ch.start).toBeLessThan(64 * 1024 + 64 * 1024);
  });

  test("detaching the slow sink resumes the producer; onEnd comes after the last byte", () => {
    const { ch, flow } = channel({ maxLag: 1000 });
    const slow = new TestSink();
    slow.blocked = true;
    ch.attach(slow);
    ch.push(new Uint8Array(5000));
    expect(flow).toEqual(["pause"]);
    ch.detach(slow);
    expect(flow).toEqual(["pause", "resume"]);

    const s = new TestSink();
    const order: string[] = [];
    s.send = (f) => void order.push(`data:${f.length - FRAME_HEADER}`);
    s.blocked = true;
    ch.attach(s, ch.end - 10, () => order.push("end"));
    ch.push(enc.encode("tail"));
    ch.finish();
    expect(order).toEqual([]);
    s.blocked = false;
    ch.pump(s);
    expect(order).toEqual(["data:14", "end"]);
  });
});
