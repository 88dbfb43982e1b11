import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBinary } from "../../support/binary.ts";
import { startRunner, type RunnerHandle } from "../../../src/runner/server.ts";
import { RUNNER_DEFAULTS, type RunnerConfig } from "../../../src/runner/session.ts";
import {
  FRAME,
  RUNNER_FRAME_KINDS,
  SUBPROTOCOL,
  TOKEN_SUBPROTOCOL_PREFIX,
  decodeFrame,
  encodeFrame,
  encodeSecret,
  generateSecret,
  mintToken,
  parseRunnerMessage,
  type Scope,
} from "../../../src/session/protocol/index.ts";

/**
 * Runs the real runner (in this process, or the compiled binary as a subprocess) on 127.0.0.1 with
 * a temporary workspace, and a WebSocket client that speaks the protocol and validates every
 * message the runner sends with the protocol's own schema.
 */
export const ALL_SCOPES: Scope[] = ["terminal", "files", "exec", "preview"];
export const SHELL = ["bash", "--norc", "--noprofile", "-i"];

export interface TestRunner {
  url: string;
  port: number;
  session: string;
  secret: Uint8Array;
  workspace: string;
  token(o?: { scopes?: Scope[]; ttlSeconds?: number; session?: string; secret?: Uint8Array; now?: number; user?: string }): string;
  connect(o?: { token?: string; scopes?: Scope[] }): Promise<Client>;
  /** in-process runners only */
  handle?: RunnerHandle;
  /** binary runners only */
  proc?: import("bun").Subprocess;
  exited(): Promise<number>;
  logs: string[];
  close(): Promise<void>;
}

function childEnv(workspace: string): Record<string, string> {
  return { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: workspace, LANG: "C.UTF-8", PS1: "$ " };
}

function base(session: string, secret: Uint8Array, workspace: string, port: number, logs: string[]) {
  const token: TestRunner["token"] = (o = {}) =>
    mintToken(o.secret ?? secret, { session: o.session ?? session, user: o.user ?? "alice", scopes: o.scopes ?? ALL_SCOPES, ttlSeconds: o.ttlSeconds ?? 300, now: o.now });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    session,
    secret,
    workspace,
    token,
    logs,
    connect: (o: { token?: string; scopes?: Scope[] } = {}) => Client.open(`ws://127.0.0.1:${port}/v1/session`, o.token ?? token({ scopes: o.scopes })),
  };
}

export async function startInProcess(over: Partial<RunnerConfig> = {}): Promise<TestRunner> {
  const workspace = realpathSync(mkdtempSync(join(tmpdir(), "devx-runner-ws-")));
  const secret = generateSecret();
  const session = `s-${Math.random().toString(36).slice(2, 10)}`;
  const logs: string[] = [];
  const handle = startRunner({
    ...RUNNER_DEFAULTS,
    session,
    secret,
    workspace,
    port: 0,
    shell: SHELL,
    env: childEnv(workspace),
    publicPorts: [],
    killGraceMs: 500,
    log: (l) => logs.push(l),
    ...over,
  });
  return {
    ...base(session, secret, workspace, handle.port, logs),
    handle,
    exited: () => handle.done,
    async close() {
      await handle.stop();
      rmSync(workspace, { recursive: true, force: true });
    },
  };
}

/** The compiled binary as the runner, the secret on its stdin. */
export async function startBinary(args: string[] = [], o: { workspace?: string; wrap?: string[] } = {}): Promise<TestRunner> {
  const binary = ensureBinary();
  const workspace = o.workspace ?? realpathSync(mkdtempSync(join(tmpdir(), "devx-runner-ws-")));
  const secret = generateSecret();
  const session = `s-${Math.random().toString(36).slice(2, 10)}`;
  const logs: string[] = [];
  const proc = Bun.spawn([...(o.wrap ?? []), binary, "runner", "--session", session, "--workspace", workspace, "--listen", "127.0.0.1:0", "--secret-stdin", "--shell", "bash", "--kill-grace", "500ms", ...args], {
    env: { ...childEnv(workspace), SHELL: "/bin/bash" },
    stdin: new Blob([encodeSecret(secret)]),
    stdout: "pipe",
    stderr: "pipe",
  });
  void (async () => {
    const r = proc.stderr.getReader();
    for (;;) {
      const { value, done } = await r.read();
      if (done) return;
      logs.push(new TextDecoder().decode(value));
    }
  })();
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`runner exited before it was ready (code ${await proc.exited}): ${logs.join("")}`);
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const ready = JSON.parse(text.split("\n")[0]!) as { ready: boolean; port: number; pid: number };
  return {
    ...base(session, secret, workspace, ready.port, logs),
    proc,
    exited: () => proc.exited,
    async close() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      await proc.exited;
      if (!o.workspace) rmSync(workspace, { recursive: true, force: true });
    },
  };
}

export type Json = Record<string, unknown> & { t: string; id?: number };

/** Poll until `f` returns a truthy value, or fail after `ms`. */
export async function until<T>(f: () => T | undefined | false | null, ms = 5000, what = "condition"): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

export class Client {
  messages: Json[] = [];
  /** raw bytes per `${kind}:${channel}` */
  data = new Map<string, Uint8Array[]>();
  invalid: string[] = [];
  closed?: { code: number; reason: string };
  private nextId = 1;
  private waiters = new Map<number, (m: Json) => void>();

  private constructor(readonly ws: WebSocket) {
    ws.binaryType = "arraybuffer";
    ws.onmessage = (e) => {
      if (typeof e.data === "string") {
        const p = parseRunnerMessage(e.data);
        if (!p.ok) this.invalid.push(e.data);
        const m = JSON.parse(e.data) as Json;
        this.messages.push(m);
        if (m.id !== undefined && (m.t === "ok" || m.t === "err")) this.waiters.get(m.id)?.(m);
        return;
      }
      const f = decodeFrame(new Uint8Array(e.data as ArrayBuffer), RUNNER_FRAME_KINDS);
      if (typeof f === "string") return void this.invalid.push(f);
      const key = `${f.kind}:${f.channel}`;
      const list = this.data.get(key) ?? [];
      list.push(f.payload.slice());
      this.data.set(key, list);
    };
    ws.onclose = (e) => {
      this.closed = { code: e.code, reason: e.reason };
      // requests that can no longer be answered
      for (const [id, w] of this.waiters) w({ t: "closed", id });
    };
  }

  static open(url: string, token: string): Promise<Client> {
    const ws = new WebSocket(url, [SUBPROTOCOL, `${TOKEN_SUBPROTOCOL_PREFIX}${token}`]);
    const c = new Client(ws);
    return new Promise((resolve, reject) => {
      ws.onopen = () => resolve(c);
      ws.onerror = () => reject(new Error("WebSocket refused"));
    });
  }

  request(t: string, fields: Record<string, unknown> = {}): Promise<Json> {
    const id = this.nextId++;
    if (this.closed) return Promise.resolve({ t: "closed", id });
    return new Promise((resolve) => {
      this.waiters.set(id, (m) => {
        this.waiters.delete(id);
        resolve(m);
      });
      this.ws.send(JSON.stringify({ t, id, ...fields }));
    });
  }

  /** A request that must succeed. */
  async ok(t: string, fields: Record<string, unknown> = {}): Promise<Json> {
    const r = await this.request(t, fields);
    if (r.t !== "ok") throw new Error(`${t} failed: ${r.code}: ${r.message}`);
    return r;
  }

  type(term: number, text: string | Uint8Array): void {
    this.ws.send(encodeFrame(FRAME.termInput, term, typeof text === "string" ? new TextEncoder().encode(text) : text));
  }

  frames(kind: number, channel: number): Uint8Array[] {
    return this.data.get(`${kind}:${channel}`) ?? [];
  }

  bytes(kind: number, channel: number): Uint8Array {
    return Buffer.concat(this.frames(kind, channel));
  }

  text(term: number): string {
    return new TextDecoder().decode(this.bytes(FRAME.termOutput, term));
  }

  /** Wait for terminal output; polls only what arrived since the last look, so megabytes stay cheap. */
  async waitText(term: number, needle: string | RegExp, ms = 5000): Promise<string> {
    let seen = 0;
    let acc = "";
    const dec = new TextDecoder();
    await until(() => {
      const frames = this.frames(FRAME.termOutput, term);
      for (; seen < frames.length; seen++) acc += dec.decode(frames[seen], { stream: true });
      return typeof needle === "string" ? acc.includes(needle) : needle.test(acc);
    }, ms, `terminal ${term} to print ${needle}`);
    return acc;
  }

  waitMessage(pred: (m: Json) => boolean, ms = 5000, what = "a message"): Promise<Json> {
    return until(() => this.messages.find(pred), ms, what);
  }

  waitClosed(ms = 5000): Promise<{ code: number; reason: string }> {
    return until(() => this.closed, ms, "the socket to close");
  }

  close(): void {
    this.ws.close();
  }
}

/** An upload that keeps within the credit the runner grants, as the protocol requires. */
export async function upload(c: Client, path: string, data: Uint8Array, o: { chunk?: number; parents?: boolean } = {}): Promise<Record<string, unknown>> {
  const chunk = o.chunk ?? 256 * 1024;
  const open = await c.ok("fs.write", { path, size: data.length, parents: o.parents });
  const stream = open.stream as number;
  let allowed = open.window as number;
  let sent = 0;
  let credited = 0;
  while (sent < data.length) {
    const n = Math.min(chunk, data.length - sent);
    if (sent + n > allowed) {
      await until(() => {
        const got = c.messages.filter((m) => m.t === "stream.credit" && m.stream === stream).reduce((s, m) => s + (m.bytes as number), 0);
        if (got > credited) {
          allowed += got - credited;
          credited = got;
        }
        return sent + n <= allowed;
      }, 10000, "upload credit");
      continue;
    }
    c.ws.send(encodeFrame(FRAME.streamData, stream, data, sent, sent + n));
    sent += n;
  }
  return c.ok("stream.end", { stream });
}

/** Open a bash terminal and wait for its prompt. */
export async function openShell(c: Client, fields: Record<string, unknown> = {}): Promise<number> {
  const r = await c.ok("term.open", { cols: 120, rows: 40, ...fields });
  const term = r.term as number;
  c.type(term, "PS1='$ '; echo READY-$((6*7))\n");
  await c.waitText(term, "READY-42");
  return term;
}
