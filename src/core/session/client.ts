import * as v from "valibot";
import { ConflictError, DevxError, NetworkError, NotFoundError, PermissionError, ProviderError, UsageError } from "../../errors.ts";
import { FRAME, RUNNER_FRAME_KINDS, decodeFrame, encodeFrame } from "../../session/protocol/frames.ts";
import { SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX } from "../../session/protocol/version.ts";

/**
 * What the CLI's `devx session …` commands use to talk to a control plane (`devx session serve`):
 * its HTTP API with an API token, and a session's runner through the control plane's
 * `/s/<id>/v1/session` socket with a short-lived runner token the API mints.
 */
export interface SessionView {
  id: string;
  owner: string;
  template: string;
  image: string;
  state: string;
  detail?: string;
  created: string;
  updated: string;
  running: boolean;
  limits: { cpus: number; memoryMiB: number; pids: number };
  egress: boolean;
  idleMinutes: number;
  maxHours: number;
}

/** One line of text from the peer: bounded, and no control characters (no terminal escapes reach the user's terminal). */
const line = (max: number) => v.pipe(v.string(), v.maxLength(max), v.regex(/^[^\x00-\x1f\x7f]*$/, "control characters"));
const count = v.pipe(v.number(), v.finite());
/**
 * A session as the control plane answers it, checked before anything is printed or used: a
 * control plane is a network peer. Fields this client does not know are kept (for --json).
 */
const sessionViewSchema = v.looseObject({
  id: v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{2,40}$/, "a session id")),
  owner: line(200),
  template: line(200),
  image: line(300),
  state: line(40),
  // several lines allowed (an error's text), still no escapes
  detail: v.optional(v.pipe(v.string(), v.maxLength(4000), v.regex(/^[^\x00-\x08\x0b-\x1f\x7f]*$/, "control characters"))),
  created: line(40),
  updated: line(40),
  running: v.boolean(),
  limits: v.looseObject({ cpus: count, memoryMiB: count, pids: count }),
  egress: v.boolean(),
  idleMinutes: count,
  maxHours: count,
});

function checked(base: string, answer: unknown, key: "session" | "sessions"): unknown {
  const r = v.safeParse(v.object({ [key]: key === "session" ? sessionViewSchema : v.pipe(v.array(sessionViewSchema), v.maxLength(10_000)) }), answer);
  if (!r.success) {
    const issue = r.issues[0];
    throw new ProviderError(`the control plane's answer is not a valid ${key === "session" ? "session" : "session list"} (${v.getDotPath(issue) ?? key}: ${issue.message})`, `is ${base} a devx control plane of this version?`);
  }
  return (r.output as Record<string, unknown>)[key];
}

export interface CreateBody {
  template?: string;
  name?: string;
  cpus?: number;
  memoryMiB?: number;
  pids?: number;
  egress?: boolean;
  idleMinutes?: number;
  maxHours?: number;
}

/** The server URL: http(s) only, no credentials or query in it. */
export function parseServerUrl(text: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new UsageError(`bad control plane URL "${text}"`, "use http://host:port, e.g. http://127.0.0.1:7420 (--server or DEVX_SESSION_SERVER)");
  }
  if ((u.protocol !== "http:" && u.protocol !== "https:") || u.username || u.password || u.search || u.hash) {
    throw new UsageError(`bad control plane URL "${text}"`, "use http://host:port or https://host:port without credentials, query or fragment; the token goes in DEVX_SESSION_TOKEN");
  }
  return u.toString().replace(/\/+$/, "");
}

const KIND_ERRORS: Record<string, new (m: string, h?: string) => DevxError> = {
  usage: UsageError,
  "bad-request": UsageError,
  "not-found": NotFoundError,
  conflict: ConflictError,
  permission: PermissionError,
  forbidden: PermissionError,
  unauthenticated: PermissionError,
  "rate-limited": PermissionError,
};

export class ControlPlaneClient {
  constructor(
    readonly base: string,
    private readonly token: string,
  ) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.base}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        redirect: "error",
      });
    } catch (e) {
      throw new NetworkError(`cannot reach the control plane at ${this.base}: ${(e as Error).message}`, "is `devx session serve` running there? (--server or DEVX_SESSION_SERVER)");
    }
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      if (res.ok && !text.trimStart().startsWith("{")) return text as T;
      throw new ProviderError(`the control plane answered ${res.status} with something that is not JSON`, `is ${this.base} a devx control plane?`);
    }
    if (res.ok) return json as T;
    const err = (json as { error?: { kind?: string; message?: string; hint?: string } }).error ?? {};
    const Cls = KIND_ERRORS[err.kind ?? ""] ?? ProviderError;
    const hint = res.status === 401 ? "check DEVX_SESSION_TOKEN (create one with `devx session token create` where the control plane runs)" : (err.hint ?? "");
    throw new Cls(`control plane: ${String(err.message ?? res.statusText).slice(0, 500)}`, hint);
  }

  list = async () => checked(this.base, await this.call<unknown>("GET", "/sessions"), "sessions") as SessionView[];
  get = async (id: string) => this.session("GET", `/sessions/${id}`);
  create = async (b: CreateBody) => this.session("POST", "/sessions", b);
  start = async (id: string) => this.session("POST", `/sessions/${id}/start`);
  stop = async (id: string) => this.session("POST", `/sessions/${id}/stop`);
  private session = async (method: string, path: string, body?: unknown) => checked(this.base, await this.call<unknown>(method, path, body), "session") as SessionView;
  remove = (id: string) => this.call<void>("DELETE", `/sessions/${id}`);
  runnerToken = async (id: string, scopes: string[]) => {
    const r = await this.call<{ token?: unknown }>("POST", `/sessions/${id}/tokens`, { scopes });
    // it travels in a WebSocket subprotocol header: token characters only
    if (typeof r?.token !== "string" || !/^[A-Za-z0-9._~-]{16,4096}$/.test(r.token)) throw new ProviderError("the control plane's answer holds no valid runner token", `is ${this.base} a devx control plane of this version?`);
    return r.token;
  };

  /** The session socket through the control plane, opened with a runner token. */
  openSocket(id: string, runnerToken: string): Promise<WebSocket> {
    const ws = new WebSocket(`${this.base.replace(/^http/, "ws")}/s/${id}/v1/session`, [SUBPROTOCOL, `${TOKEN_SUBPROTOCOL_PREFIX}${runnerToken}`]);
    ws.binaryType = "arraybuffer";
    return new Promise((resolve, reject) => {
      ws.onopen = () => resolve(ws);
      ws.onerror = () => reject(new NetworkError(`the session socket of ${id} was refused`, "is the session running? (`devx session ls`)"));
    });
  }
}

export interface ExecResult {
  code: number | null;
  signal: string | null;
}

/**
 * Run argv in the session (no shell: argv as given), streaming its stdout and stderr to the
 * callbacks; resolves with its exit status.
 */
export async function execInSession(c: ControlPlaneClient, id: string, argv: string[], out: { stdout(b: Uint8Array): void; stderr(b: Uint8Array): void }, o: { cwd?: string; stdin?: AsyncIterable<Uint8Array> } = {}): Promise<ExecResult> {
  const token = await c.runnerToken(id, ["exec"]);
  const ws = await c.openSocket(id, token);
  let proc: number | undefined;
  const early: Array<{ kind: number; channel: number; payload: Uint8Array }> = [];
  return new Promise<ExecResult>((resolve, reject) => {
    let done = false;
    const finish = (f: () => void) => {
      if (done) return;
      done = true;
      f();
      ws.close();
    };
    const emit = (kind: number, payload: Uint8Array) => (kind === FRAME.execStdout ? out.stdout(payload) : kind === FRAME.execStderr ? out.stderr(payload) : undefined);
    ws.onmessage = (e) => {
      if (typeof e.data !== "string") {
        const f = decodeFrame(new Uint8Array(e.data as ArrayBuffer), RUNNER_FRAME_KINDS);
        if (typeof f === "string") return;
        if (proc === undefined) early.push({ ...f, payload: f.payload.slice() });
        else if (f.channel === proc) emit(f.kind, f.payload);
        return;
      }
      let m: { t?: string; id?: number; proc?: number; code?: number | null; signal?: string | null; message?: string };
      try {
        m = JSON.parse(e.data);
      } catch {
        return;
      }
      if (m.t === "ok" && m.id === 1) {
        proc = m.proc!;
        for (const f of early.splice(0)) if (f.channel === proc) emit(f.kind, f.payload);
        if (o.stdin) void pump(ws, proc, o.stdin);
      } else if (m.t === "err" && m.id === 1) {
        const code = (m as { code?: unknown }).code;
        finish(() => reject(code === "not-found" ? new NotFoundError(`exec: ${m.message ?? "no such program"}`, "argv[0] must be a program in the sandbox's PATH") : new UsageError(`exec: ${m.message ?? "refused"}`, "")));
      } else if (m.t === "exec.exit" && m.proc === proc) {
        finish(() => resolve({ code: m.code ?? null, signal: m.signal ?? null }));
      }
    };
    ws.onclose = (e) => finish(() => reject(new NetworkError(`the session socket closed before the command ended (${e.code}${e.reason ? ` ${e.reason}` : ""})`, "see `devx session ls`")));
    ws.send(JSON.stringify({ t: "exec.run", id: 1, argv, ...(o.cwd ? { cwd: o.cwd } : {}), ...(o.stdin ? { stdin: true } : {}) }));
  });
}

async function pump(ws: WebSocket, proc: number, stdin: AsyncIterable<Uint8Array>): Promise<void> {
  let id = 2;
  for await (const chunk of stdin) {
    for (let i = 0; i < chunk.length; i += 256 * 1024) ws.send(encodeFrame(FRAME.execStdin, proc, chunk, i, Math.min(chunk.length, i + 256 * 1024)));
  }
  ws.send(JSON.stringify({ t: "exec.stdin.end", id: id++, proc }));
}

export interface AttachIO {
  cols: number;
  rows: number;
  /** bytes typed (raw mode); the detach key is looked for here */
  onInput(cb: (b: Uint8Array) => void): () => void;
  /** the terminal's size changed */
  onResize(cb: (cols: number, rows: number) => void): () => void;
  write(b: Uint8Array): void;
}

export type AttachEnd = { term: number; detached: true } | { term: number; detached: false; exit: ExecResult };

/** Ctrl-] (as telnet and docker attach's neighbours use): leaves the terminal running. */
export const DETACH_KEY = 0x1d;

/**
 * A terminal of the session on this one: `term` reattaches (the runner replays its scrollback
 * first), else the newest live terminal, else a new one (the image's shell). Resolves when the
 * detach key is typed (the terminal keeps running) or the terminal's program exits.
 */
export async function attachTerminal(c: ControlPlaneClient, id: string, io: AttachIO, o: { term?: number; fresh?: boolean } = {}): Promise<AttachEnd> {
  const token = await c.runnerToken(id, ["terminal"]);
  const ws = await c.openSocket(id, token);
  let nextId = 1;
  const waiting = new Map<number, (m: Record<string, unknown>) => void>();
  let term: number | undefined;
  // output of a terminal being opened can come before the reply that names it
  const early: Array<{ channel: number; payload: Uint8Array }> = [];
  let exitSeen: ExecResult | undefined;
  let settle!: (e: AttachEnd) => void;
  let fail!: (e: unknown) => void;
  const ended = new Promise<AttachEnd>((res, rej) => {
    settle = res;
    fail = rej;
  });
  const request = (t: string, fields: Record<string, unknown> = {}) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const rid = nextId++;
      waiting.set(rid, (m) => (m.t === "ok" ? resolve(m) : reject(new (m.code === "not-found" ? NotFoundError : UsageError)(`${t}: ${String(m.message ?? "refused")}`, m.code === "not-found" ? `see the terminals with \`devx session attach ${id}\` (newest) or --new` : ""))));
      ws.send(JSON.stringify({ t, id: rid, ...fields }));
    });
  ws.onmessage = (e) => {
    if (typeof e.data !== "string") {
      const f = decodeFrame(new Uint8Array(e.data as ArrayBuffer), RUNNER_FRAME_KINDS);
      if (typeof f === "string" || f.kind !== FRAME.termOutput) return;
      if (term === undefined) early.push({ channel: f.channel, payload: f.payload.slice() });
      else if (f.channel === term) io.write(f.payload);
      return;
    }
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(e.data) as Record<string, unknown>;
    } catch {
      return;
    }
    if ((m.t === "ok" || m.t === "err") && typeof m.id === "number") {
      waiting.get(m.id)?.(m);
      waiting.delete(m.id);
    } else if (m.t === "term.exit" && m.term === term) {
      exitSeen = { code: (m.code as number | null) ?? null, signal: (m.signal as string | null) ?? null };
      settle({ term: term!, detached: false, exit: exitSeen });
    }
  };
  ws.onclose = (e) => {
    for (const w of waiting.values()) w({ t: "err", code: "io", message: "the session socket closed" });
    fail(new NetworkError(`the session socket closed (${e.code}${e.reason ? ` ${e.reason}` : ""})`, `reattach with \`devx session attach ${id}${term !== undefined ? ` --term ${term}` : ""}\``));
  };

  let offInput = () => {};
  let offResize = () => {};
  try {
    if (o.term !== undefined) term = o.term;
    else if (!o.fresh) {
      const list = (await request("term.list")).terminals as Array<{ term: number; exit?: unknown; createdAt: number }>;
      term = list.filter((t) => !t.exit).sort((a, b) => b.createdAt - a.createdAt)[0]?.term;
    }
    if (term === undefined) {
      const opened = (await request("term.open", { cols: io.cols, rows: io.rows })).term as number;
      term = opened;
      for (const f of early.splice(0)) if (f.channel === opened) io.write(f.payload);
    } else {
      const r = await request("term.attach", { term });
      if (r.exit) return { term, detached: false, exit: r.exit as ExecResult };
      await request("term.resize", { term, cols: io.cols, rows: io.rows });
    }
    const t = term;
    offInput = io.onInput((b) => {
      const k = b.indexOf(DETACH_KEY);
      const send = k >= 0 ? b.subarray(0, k) : b;
      if (send.length) ws.send(encodeFrame(FRAME.termInput, t, send));
      if (k >= 0) void request("term.detach", { term: t }).then(() => settle({ term: t, detached: true }), () => settle({ term: t, detached: true }));
    });
    offResize = io.onResize((cols, rows) => void request("term.resize", { term: t, cols, rows }).catch(() => {}));
    return await ended;
  } finally {
    offInput();
    offResize();
    ws.onclose = null;
    ws.close();
  }
}
