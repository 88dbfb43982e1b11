import { CLIENT_FRAME_KINDS, FRAME, LIMITS, decodeFrame, encodeFrame, hasScope, parseClientMessage, scopeFor, type ClientMessage, type ClientRequest, type ErrorCode, type Frame } from "../session/protocol/index.ts";
import { closeSync } from "node:fs";
import { RequestError, type Connection } from "./connection.ts";
import { readChunk } from "./files.ts";
import type { Proc } from "./exec.ts";
import type { Session } from "./session.ts";
import { Watch } from "./watch.ts";
import { WorkspaceError } from "./workspace.ts";

/**
 * Dispatch of one inbound message. Returns a promise only when the connection must wait before
 * handling the next message (disk writes, a PTY or stdin not taking input): everything else
 * completes in the tick it arrived. Long transfers (file reads, command output) are started here
 * and continue on their own, in order on their own channel.
 */
type After = (() => void)[];

const MAX_WATCHES = 16;

export function handleMessage(s: Session, conn: Connection, msg: string | Uint8Array): void | Promise<void> {
  if (typeof msg !== "string") return handleFrame(s, conn, msg);
  const parsed = parseClientMessage(msg);
  if (!parsed.ok) return conn.error(parsed.id, parsed.code, parsed.message);
  const m = parsed.message;
  const scope = scopeFor(m.t);
  if (scope && !hasScope(conn.claims, scope)) return conn.error(m.id, "forbidden", `${m.t} needs a token with the "${scope}" scope`);
  const after: After = [];
  let r: object | Promise<object>;
  try {
    r = request(s, conn, m, after);
  } catch (e) {
    return fail(conn, m.id, e);
  }
  if (!(r instanceof Promise)) return finish(conn, m.id, r, after);
  return r.then(
    (res) => finish(conn, m.id, res, after),
    (e) => fail(conn, m.id, e),
  );
}

function finish(conn: Connection, id: number, result: object, after: After): void {
  conn.reply(id, result);
  for (const f of after) f();
}

function fail(conn: Connection, id: number, e: unknown): void {
  if (e instanceof WorkspaceError || e instanceof RequestError) return conn.error(id, e.code, e.message);
  if (e instanceof RangeError) return conn.error(id, "limit", e.message);
  // a program that cannot be started (Bun.spawn's errno)
  const errno = (e as NodeJS.ErrnoException).code;
  if (errno === "ENOENT") return conn.error(id, "not-found", "the program was not found");
  if (errno === "EACCES" || errno === "EPERM") return conn.error(id, "forbidden", "the program cannot be executed (permission denied)");
  conn.log(`request ${id}: ${(e as Error).stack ?? e}`);
  conn.error(id, "internal", "internal error");
}

function request(s: Session, conn: Connection, m: ClientMessage, after: After): object | Promise<object> {
  switch (m.t) {
    case "ping":
      return { now: Date.now() };

    case "term.open": {
      const cwd = s.resolveDir(m.cwd ?? "");
      s.activity.touch("terminal");
      const t = s.terminals.open({ argv: m.argv ?? s.cfg.shell, cwd, env: s.childEnv({ TERM: "xterm-256color", COLORTERM: "truecolor", ...m.env }), cols: m.cols ?? 80, rows: m.rows ?? 24 }, () => s.log(`terminal ${t.id} exited`));
      attachTerm(conn, t.id, 0, after, s);
      return { term: t.id, pid: t.pid };
    }
    case "term.attach":
      return attachTerm(conn, m.term, m.since, after, s);
    case "term.detach":
      conn.detach(term(s, m.term).output);
      return {};
    case "term.resize":
      term(s, m.term).resize(m.cols, m.rows);
      return {};
    case "term.close":
      term(s, m.term);
      return s.terminals.close(m.term).then(() => ({}));
    case "term.list":
      return { terminals: s.terminals.list().map((t) => t.info()) };

    case "fs.list":
      return s.files.list(m.path);
    case "fs.stat":
      return { stat: s.files.stat(m.path, m.follow ?? true) };
    case "fs.read":
      return startRead(s, conn, m, after);
    case "fs.write":
      return startWrite(s, conn, m);
    case "stream.end": {
      const u = conn.uploads.get(m.stream);
      if (!u) throw new RequestError("not-found", `no upload stream ${m.stream}`);
      conn.endUpload(m.stream);
      if (u.size !== undefined && u.upload.bytes !== u.size) {
        u.upload.abort();
        throw new RequestError("bad-request", `stream ${m.stream} delivered ${u.upload.bytes} bytes of the ${u.size} announced; nothing was written`);
      }
      return u.upload.commit();
    }
    case "stream.cancel": {
      const u = conn.uploads.get(m.stream);
      if (u) {
        u.upload.abort();
        conn.endUpload(m.stream);
      }
      const r = conn.reads.get(m.stream);
      if (r) r.cancelled = true;
      conn.reads.delete(m.stream);
      return {};
    }
    case "fs.mkdir":
      s.files.mkdir(m.path, m.parents ?? false);
      return {};
    case "fs.rename":
      s.files.rename(m.from, m.to, m.overwrite ?? false);
      return {};
    case "fs.delete":
      s.files.remove(m.path, m.recursive ?? false);
      return {};
    case "fs.watch": {
      if (conn.watches.has(m.id)) throw new RequestError("exists", `watch ${m.id} exists`);
      if (conn.watches.size >= MAX_WATCHES) throw new RangeError(`at most ${MAX_WATCHES} watches per connection`);
      const id = m.id;
      const w = new Watch(s.files.ws, m.path, {
        congested: () => conn.congested(),
        change: (path, change) => conn.sendJson({ t: "fs.change", watch: id, path, change }),
        overflow: () => conn.sendJson({ t: "fs.overflow", watch: id }),
      });
      conn.watches.set(id, w);
      return { watch: id };
    }
    case "fs.unwatch":
      conn.watches.get(m.watch)?.close();
      conn.watches.delete(m.watch);
      return {};

    case "exec.run": {
      const cwd = s.resolveDir(m.cwd ?? "");
      s.activity.touch("command");
      const p = s.procs.start({ argv: m.argv, cwd, env: s.childEnv(m.env ?? {}), stdin: m.stdin ?? false, background: m.background ?? false, timeoutMs: m.timeoutMs });
      if (!p.spec.background) conn.owned.add(p);
      attachProc(conn, p, after, s);
      return { proc: p.id, pid: p.pid };
    }
    case "exec.attach": {
      const p = proc(s, m.proc);
      attachProc(conn, p, after, s);
      return { proc: p.id, ...(p.exit ? { exit: p.exit } : {}) };
    }
    case "exec.detach": {
      const p = proc(s, m.proc);
      conn.detach(p.stdout);
      conn.detach(p.stderr);
      return {};
    }
    case "exec.kill": {
      const p = proc(s, m.proc);
      if (m.signal) {
        p.signal(`SIG${m.signal}` as NodeJS.Signals);
        return {};
      }
      return p.kill().then(() => ({}));
    }
    case "exec.stdin.end":
      proc(s, m.proc).endStdin();
      return {};
    case "exec.list":
      return { procs: s.procs.list().map((p) => p.info()) };
  }
}

function term(s: Session, id: number) {
  const t = s.terminals.get(id);
  if (!t) throw new RequestError("not-found", `no terminal ${id}`);
  return t;
}

function proc(s: Session, id: number): Proc {
  const p = s.procs.get(id);
  if (!p) throw new RequestError("not-found", `no command ${id}`);
  return p;
}

function attachTerm(conn: Connection, id: number, since: number | undefined, after: After, s: Session) {
  const t = term(s, id);
  conn.detach(t.output);
  const { from, truncated } = t.output.attach(conn, since, () => conn.sendJson({ t: "term.exit", term: t.id, ...t.exit! }));
  conn.attach(t.output);
  after.push(() => t.output.pump(conn));
  return { term: t.id, from, truncated, cols: t.spec.cols, rows: t.spec.rows, ...(t.exit ? { exit: t.exit } : {}) };
}

function attachProc(conn: Connection, p: Proc, after: After, s: Session): void {
  let ends = 0;
  const onEnd = () => {
    if (++ends < 2) return;
    conn.sendJson({ t: "exec.exit", proc: p.id, ...p.exit! });
    conn.detach(p.stdout);
    conn.detach(p.stderr);
    conn.owned.delete(p);
    if (!p.spec.background) s.procs.forget(p.id);
  };
  for (const ch of [p.stdout, p.stderr]) {
    conn.detach(ch);
    ch.attach(conn, undefined, onEnd);
    conn.attach(ch);
  }
  after.push(() => {
    p.stdout.pump(conn);
    p.stderr.pump(conn);
  });
}

function startRead(s: Session, conn: Connection, m: ClientRequest<"fs.read">, after: After): object {
  if (conn.reads.has(m.id) || conn.uploads.has(m.id)) throw new RequestError("exists", `stream ${m.id} is open`);
  const { fd, size } = s.files.openRead(m.path);
  const start = Math.min(m.offset ?? 0, size);
  const want = m.length ?? Number.MAX_SAFE_INTEGER;
  const state = { cancelled: false };
  conn.reads.set(m.id, state);
  after.push(() => {
    void (async () => {
      const buf = new Uint8Array(LIMITS.maxOutFramePayload);
      let sent = 0;
      try {
        while (!state.cancelled && sent < want) {
          const w = conn.writable();
          if (w) await w;
          if (state.cancelled) break;
          const n = await readChunk(fd, buf.subarray(0, Math.min(buf.length, want - sent)), start + sent);
          if (n === 0) break;
          conn.send(encodeFrame(FRAME.streamData, m.id, buf, 0, n));
          sent += n;
        }
        if (!state.cancelled) conn.sendJson({ t: "stream.end", stream: m.id, bytes: sent });
      } catch (e) {
        conn.sendJson({ t: "stream.error", stream: m.id, code: "io", message: `${m.path}: ${(e as NodeJS.ErrnoException).code ?? "read failed"}` });
      } finally {
        closeSync(fd);
        conn.reads.delete(m.id);
      }
    })();
  });
  return { stream: m.id, size };
}

async function startWrite(s: Session, conn: Connection, m: ClientRequest<"fs.write">): Promise<object> {
  if (m.data !== undefined) {
    const u = s.files.beginWrite(m.path, { mode: m.mode, parents: m.parents });
    try {
      await u.write(Buffer.from(m.data, "base64"));
    } catch (e) {
      u.abort();
      throw e;
    }
    return u.commit();
  }
  if (conn.uploads.has(m.id) || conn.reads.has(m.id)) throw new RequestError("exists", `stream ${m.id} is open`);
  const upload = s.files.beginWrite(m.path, { mode: m.mode, parents: m.parents });
  conn.uploads.set(m.id, { upload, size: m.size, allowed: LIMITS.streamWindow, arrived: 0 });
  return { stream: m.id, window: LIMITS.streamWindow };
}

function handleFrame(s: Session, conn: Connection, data: Uint8Array): void | Promise<void> {
  const f = decodeFrame(data, CLIENT_FRAME_KINDS);
  if (typeof f === "string") return conn.protocolError(f);
  switch (f.kind) {
    case FRAME.termInput: {
      if (!hasScope(conn.claims, "terminal")) return frameError(conn, "forbidden", "terminal input needs the \"terminal\" scope");
      const t = s.terminals.get(f.channel);
      if (!t) return frameError(conn, "not-found", `no terminal ${f.channel}`);
      if (t.exit) return frameError(conn, "exited", `terminal ${f.channel} has exited`);
      s.activity.touch("input");
      return t.write(f.payload);
    }
    case FRAME.execStdin: {
      if (!hasScope(conn.claims, "exec")) return frameError(conn, "forbidden", "command input needs the \"exec\" scope");
      const p = s.procs.get(f.channel);
      if (!p) return frameError(conn, "not-found", `no command ${f.channel}`);
      s.activity.touch("input");
      return p.writeStdin(f.payload);
    }
    case FRAME.streamData:
      return uploadChunk(conn, f);
  }
}

async function uploadChunk(conn: Connection, f: Frame): Promise<void> {
  // arrival was checked against the credit (Connection.countArrival); a stream that failed since is skipped
  const u = conn.uploads.get(f.channel);
  if (!u) return;
  const fail = (code: ErrorCode, message: string) => {
    conn.endUpload(f.channel);
    u.upload.abort();
    conn.sendJson({ t: "stream.error", stream: f.channel, code, message });
  };
  if (u.size !== undefined && u.upload.bytes + f.payload.length > u.size) return fail("too-large", `more than the ${u.size} bytes announced; nothing was written`);
  try {
    await u.upload.write(f.payload);
  } catch (e) {
    return fail(e instanceof WorkspaceError ? e.code : "io", (e as Error).message);
  }
  u.allowed += f.payload.length;
  conn.sendJson({ t: "stream.credit", stream: f.channel, bytes: f.payload.length });
}

function frameError(conn: Connection, code: ErrorCode, message: string): void {
  conn.error(undefined, code, message);
}
