import { describe, expect, test } from "bun:test";
import { CLIENT_FRAME_KINDS, CLIENT_MESSAGE_TYPES, FRAME, RUNNER_FRAME_KINDS, decodeFrame, encodeFrame, parseClientMessage, parseRunnerMessage, scopeFor } from "../../../src/session/protocol/index.ts";

describe("binary frames", () => {
  test("round trip with the channel in every frame", () => {
    for (const channel of [0, 1, 255, 65536, 0xffffffff]) {
      const f = decodeFrame(encodeFrame(FRAME.termOutput, channel, new Uint8Array([1, 2, 3])), RUNNER_FRAME_KINDS);
      expect(f).toEqual({ kind: FRAME.termOutput, channel, payload: new Uint8Array([1, 2, 3]) });
    }
    const empty = decodeFrame(encodeFrame(FRAME.termInput, 7, new Uint8Array()), CLIENT_FRAME_KINDS);
    expect(typeof empty === "object" && empty.payload.length).toBe(0);
    const sliced = encodeFrame(FRAME.streamData, 9, new Uint8Array([1, 2, 3, 4, 5]), 1, 3);
    expect([...sliced]).toEqual([FRAME.streamData, 0, 0, 0, 9, 2, 3]);
  });

  test("refuses short frames, unknown kinds and kinds of the other direction", () => {
    expect(decodeFrame(new Uint8Array([1, 0, 0]), RUNNER_FRAME_KINDS)).toMatch(/shorter than its 5-byte header/);
    expect(decodeFrame(new Uint8Array([0x7f, 0, 0, 0, 1]), CLIENT_FRAME_KINDS)).toMatch(/0x7f is not accepted/);
    // a client may not send terminal output, the runner never sends terminal input
    expect(decodeFrame(encodeFrame(FRAME.termOutput, 1, new Uint8Array()), CLIENT_FRAME_KINDS)).toMatch(/not accepted/);
    expect(decodeFrame(encodeFrame(FRAME.termInput, 1, new Uint8Array()), RUNNER_FRAME_KINDS)).toMatch(/not accepted/);
    expect(() => encodeFrame(FRAME.termInput, -1, new Uint8Array())).toThrow(RangeError);
    expect(() => encodeFrame(FRAME.termInput, 2 ** 32, new Uint8Array())).toThrow(RangeError);
  });
});

describe("client messages", () => {
  const valid: Record<string, Record<string, unknown>> = {
    ping: {},
    "term.open": { cols: 80, rows: 24, argv: ["bash", "-l"], cwd: "src", env: { FOO: "bar" } },
    "term.attach": { term: 1, since: 1024 },
    "term.detach": { term: 1 },
    "term.resize": { term: 1, cols: 100, rows: 30 },
    "term.close": { term: 1 },
    "term.list": {},
    "fs.list": { path: "" },
    "fs.stat": { path: "a/b", follow: false },
    "fs.read": { path: "a", offset: 0, length: 10 },
    "fs.write": { path: "a", data: "aGVsbG8=", mode: 0o644, parents: true },
    "stream.end": { stream: 3 },
    "stream.cancel": { stream: 3 },
    "fs.mkdir": { path: "d", parents: true },
    "fs.rename": { from: "a", to: "b", overwrite: true },
    "fs.delete": { path: "d", recursive: true },
    "fs.watch": { path: "" },
    "fs.unwatch": { watch: 4 },
    "exec.run": { argv: ["make", "test"], cwd: "", env: { CI: "1" }, stdin: true, background: false, timeoutMs: 1000 },
    "exec.attach": { proc: 1 },
    "exec.detach": { proc: 1 },
    "exec.kill": { proc: 1, signal: "TERM" },
    "exec.stdin.end": { proc: 1 },
    "exec.list": {},
  };

  test("every request type has a valid example that parses", () => {
    expect(Object.keys(valid).sort()).toEqual([...CLIENT_MESSAGE_TYPES].sort());
    for (const [t, fields] of Object.entries(valid)) {
      const r = parseClientMessage(JSON.stringify({ t, id: 1, ...fields }));
      expect(r.ok ? "ok" : r.message).toBe("ok");
    }
  });

  test("refuses bad requests, with the id when it can be read", () => {
    const bad: [unknown, RegExp][] = [
      [{ t: "term.open", id: 2, cols: 0 }, /cols/],
      [{ t: "term.open", id: 2, cols: 80.5 }, /cols/],
      [{ t: "term.resize", id: 2, term: 1, cols: 5000, rows: 10 }, /cols/],
      [{ t: "term.attach", id: 2, term: -1 }, /term/],
      [{ t: "fs.read", id: 2, path: "a\0b" }, /NUL/],
      [{ t: "fs.read", id: 2, path: "x".repeat(5000) }, /path/],
      [{ t: "fs.write", id: 2, path: "a", data: "not base64!" }, /data/],
      [{ t: "exec.run", id: 2, argv: [] }, /argv/],
      [{ t: "exec.run", id: 2, argv: "rm -rf /" }, /argv/],
      [{ t: "exec.run", id: 2, argv: ["ls"], env: { "BAD NAME": "x" } }, /env/],
      [{ t: "exec.kill", id: 2, proc: 1, signal: "STOP" }, /signal/],
      [{ t: "ping", id: 2, extra: true }, /extra|key/i],
    ];
    for (const [msg, why] of bad) {
      const r = parseClientMessage(JSON.stringify(msg));
      expect(r.ok).toBe(false);
      if (r.ok) continue;
      expect(r.id).toBe(2);
      expect(r.code).toBe("bad-request");
      expect(r.message).toMatch(why);
    }
  });

  test("refuses unknown types, non-JSON, oversized messages and bad ids", () => {
    const unknown = parseClientMessage(JSON.stringify({ t: "shell.exec", id: 5 }));
    expect(unknown).toMatchObject({ ok: false, id: 5, code: "unknown-type" });
    const notJson = parseClientMessage("{nope");
    expect(notJson).toMatchObject({ ok: false, code: "bad-request" });
    expect(!notJson.ok && notJson.id).toBeUndefined();
    expect(parseClientMessage("x".repeat(300_000))).toMatchObject({ ok: false, code: "bad-request" });
    for (const id of [0, -1, 1.5, "1", 2 ** 32]) {
      const r = parseClientMessage(JSON.stringify({ t: "ping", id }));
      expect(r.ok).toBe(false);
      expect(!r.ok && r.id).toBeUndefined();
    }
  });

  test("each request type maps to the scope it needs", () => {
    expect(scopeFor("term.open")).toBe("terminal");
    expect(scopeFor("fs.write")).toBe("files");
    expect(scopeFor("stream.end")).toBe("files");
    expect(scopeFor("exec.run")).toBe("exec");
    expect(scopeFor("ping")).toBeUndefined();
  });
});

describe("runner messages (validated by clients)", () => {
  test("replies and events parse; garbage does not", () => {
    for (const m of [
      { t: "ok", id: 3, term: 1 },
      { t: "err", id: 3, code: "escape", message: "x" },
      { t: "err", code: "flow", message: "x" },
      { t: "term.exit", term: 1, code: 0, signal: null },
      { t: "exec.exit", proc: 1, code: null, signal: "SIGKILL" },
      { t: "stream.end", stream: 4, bytes: 10 },
      { t: "stream.credit", stream: 4, bytes: 10 },
      { t: "fs.change", watch: 2, path: "a", change: "created" },
      { t: "session.ending", reason: "idle" },
    ]) {
      expect(parseRunnerMessage(JSON.stringify(m)).ok).toBe(true);
    }
    expect(parseRunnerMessage(JSON.stringify({ t: "err", id: 3, code: "made-up", message: "x" })).ok).toBe(false);
    expect(parseRunnerMessage(JSON.stringify({ t: "session.ending", reason: "bored" })).ok).toBe(false);
    expect(parseRunnerMessage("[]").ok).toBe(false);
  });
});
