import * as v from "valibot";
import { LIMITS } from "./version.ts";

/**
 * JSON control messages (WebSocket text frames). A client sends requests `{t, id, …}`; the runner
 * answers each with exactly one reply, `{t: "ok", id, …result}` or `{t: "err", id, code, message}`,
 * in the order the requests arrived. The runner also sends events (`{t, …}` without `id`).
 * Both directions are validated here: `parseClientMessage` on the runner, `parseRunnerMessage` on
 * clients. docs/session-protocol.md describes every message.
 */

const u32 = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0xffffffff));
const reqId = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(0xffffffff));
const offset = v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(Number.MAX_SAFE_INTEGER));
const path = v.pipe(v.string(), v.maxLength(4096), v.check((s) => !s.includes("\0"), "a path may not contain NUL"));
const dim = v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(1000));
const argv = v.pipe(v.array(v.pipe(v.string(), v.maxLength(65536), v.check((s) => !s.includes("\0"), "argv may not contain NUL"))), v.minLength(1), v.maxLength(4096));
const envName = v.pipe(v.string(), v.regex(/^[A-Za-z_][A-Za-z0-9_]{0,255}$/, "environment names are letters, digits and _"));
const env = v.pipe(
  v.record(envName, v.pipe(v.string(), v.maxLength(65536), v.check((s) => !s.includes("\0"), "environment values may not contain NUL"))),
  v.check((r) => Object.keys(r).length <= 256, "at most 256 environment variables"),
);
const signalName = v.picklist(["HUP", "INT", "TERM", "KILL", "QUIT", "USR1", "USR2"]);

const req = <T extends string, E extends v.ObjectEntries>(t: T, entries: E) => v.strictObject({ t: v.literal(t), id: reqId, ...entries });

export const clientMessageSchema = v.variant("t", [
  req("ping", {}),
  req("term.open", { cols: v.optional(dim), rows: v.optional(dim), argv: v.optional(argv), cwd: v.optional(path), env: v.optional(env) }),
  req("term.attach", { term: u32, since: v.optional(offset) }),
  req("term.detach", { term: u32 }),
  req("term.resize", { term: u32, cols: dim, rows: dim }),
  req("term.close", { term: u32 }),
  req("term.list", {}),
  req("fs.list", { path }),
  req("fs.stat", { path, follow: v.optional(v.boolean()) }),
  req("fs.read", { path, offset: v.optional(offset), length: v.optional(offset) }),
  req("fs.write", {
    path,
    /** the whole content, base64; absent: the content follows as a stream (streamData frames) */
    data: v.optional(v.pipe(v.string(), v.maxLength(Math.ceil(LIMITS.maxInlineWrite / 3) * 4), v.base64())),
    /** announced size of a streamed write; the stream is refused if it delivers more or less */
    size: v.optional(offset),
    mode: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0o7777))),
    parents: v.optional(v.boolean()),
  }),
  req("stream.end", { stream: reqId }),
  req("stream.cancel", { stream: reqId }),
  req("fs.mkdir", { path, parents: v.optional(v.boolean()) }),
  req("fs.rename", { from: path, to: path, overwrite: v.optional(v.boolean()) }),
  req("fs.delete", { path, recursive: v.optional(v.boolean()) }),
  req("fs.watch", { path }),
  req("fs.unwatch", { watch: reqId }),
  req("exec.run", {
    argv,
    cwd: v.optional(path),
    env: v.optional(env),
    stdin: v.optional(v.boolean()),
    background: v.optional(v.boolean()),
    timeoutMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(7 * 24 * 3600 * 1000))),
  }),
  req("exec.attach", { proc: u32 }),
  req("exec.detach", { proc: u32 }),
  req("exec.kill", { proc: u32, signal: v.optional(signalName) }),
  req("exec.stdin.end", { proc: u32 }),
  req("exec.list", {}),
]);

export type ClientMessage = v.InferOutput<typeof clientMessageSchema>;
export type ClientMessageType = ClientMessage["t"];
export type ClientRequest<T extends ClientMessageType> = Extract<ClientMessage, { t: T }>;

export const CLIENT_MESSAGE_TYPES: readonly ClientMessageType[] = clientMessageSchema.options.map((o) => o.entries.t.literal);

export type ParseResult<T> = { ok: true; message: T } | { ok: false; id?: number; code: "bad-request" | "unknown-type"; message: string };

/** Validate a client's text frame. The request id is returned with the error when it can be read, so the error gets a reply. */
export function parseClientMessage(text: string): ParseResult<ClientMessage> {
  if (text.length > LIMITS.maxJsonMessage) return { ok: false, code: "bad-request", message: `control message of ${text.length} characters exceeds ${LIMITS.maxJsonMessage}` };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, code: "bad-request", message: "control message is not JSON" };
  }
  const id = typeof raw === "object" && raw !== null && v.is(reqId, (raw as { id?: unknown }).id) ? ((raw as { id: number }).id) : undefined;
  const t = typeof raw === "object" && raw !== null ? (raw as { t?: unknown }).t : undefined;
  if (typeof t !== "string" || !(CLIENT_MESSAGE_TYPES as readonly string[]).includes(t)) {
    return { ok: false, id, code: "unknown-type", message: `unknown message type ${JSON.stringify(t)?.slice(0, 64)}` };
  }
  const r = v.safeParse(clientMessageSchema, raw);
  if (!r.success) {
    const issue = r.issues[0];
    const where = issue.path?.map((p) => String(p.key)).join(".") ?? "";
    return { ok: false, id, code: "bad-request", message: `${t}: ${where ? `${where}: ` : ""}${issue.message}` };
  }
  return { ok: true, message: r.output };
}

// ---------------------------------------------------------------------------------------------
// Runner → client

export const ERROR_CODES = [
  "bad-request",
  "unknown-type",
  "forbidden",
  "not-found",
  "exists",
  "escape",
  "not-a-directory",
  "is-a-directory",
  "not-empty",
  "too-large",
  "limit",
  "flow",
  "exited",
  "io",
  "internal",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

const fileType = v.picklist(["file", "dir", "symlink", "other"]);
export const statSchema = v.object({
  name: v.string(),
  type: fileType,
  size: offset,
  mode: v.number(),
  mtimeMs: v.number(),
  /** the link's text, for symlinks */
  target: v.optional(v.string()),
});
export type FileStat = v.InferOutput<typeof statSchema>;

const exitInfo = { code: v.nullable(v.number()), signal: v.nullable(v.string()) };

export const terminalInfoSchema = v.object({
  term: u32,
  pid: v.number(),
  argv: v.array(v.string()),
  cols: dim,
  rows: dim,
  createdAt: v.number(),
  /** bytes of output produced so far (the offset a client resumes from) */
  end: offset,
  attached: v.number(),
  paused: v.boolean(),
  exit: v.optional(v.object(exitInfo)),
});
export type TerminalInfo = v.InferOutput<typeof terminalInfoSchema>;

export const procInfoSchema = v.object({
  proc: u32,
  pid: v.number(),
  argv: v.array(v.string()),
  background: v.boolean(),
  startedAt: v.number(),
  exit: v.optional(v.object(exitInfo)),
});
export type ProcInfo = v.InferOutput<typeof procInfoSchema>;

const ev = <T extends string, E extends v.ObjectEntries>(t: T, entries: E) => v.object({ t: v.literal(t), ...entries });

export const runnerMessageSchema = v.variant("t", [
  ev("hello", {
    v: v.number(),
    session: v.string(),
    user: v.string(),
    scopes: v.array(v.string()),
    runner: v.string(),
    heartbeat: v.object({ intervalMs: v.number(), timeoutMs: v.number() }),
    limits: v.record(v.string(), v.number()),
  }),
  // a reply: result fields depend on the request (see ResultOf)
  v.looseObject({ t: v.literal("ok"), id: reqId }),
  ev("err", { id: v.optional(reqId), code: v.picklist(ERROR_CODES), message: v.string() }),
  ev("term.exit", { term: u32, ...exitInfo }),
  ev("exec.exit", { proc: u32, ...exitInfo }),
  ev("stream.end", { stream: reqId, bytes: offset }),
  ev("stream.credit", { stream: reqId, bytes: offset }),
  ev("stream.error", { stream: reqId, code: v.picklist(ERROR_CODES), message: v.string() }),
  ev("fs.change", { watch: reqId, path: v.string(), change: v.picklist(["created", "modified", "deleted"]) }),
  ev("fs.overflow", { watch: reqId }),
  ev("session.idle", { stopAt: v.number() }),
  ev("session.ending", { reason: v.picklist(["stopped", "idle", "lifetime"]) }),
]);

export type RunnerMessage = v.InferOutput<typeof runnerMessageSchema>;

/** Result fields of the `ok` reply to each request. */
export interface ResultOf {
  ping: { now: number };
  "term.open": { term: number; pid: number };
  "term.attach": { term: number; from: number; truncated: boolean; cols: number; rows: number; exit?: { code: number | null; signal: string | null } };
  "term.detach": Record<string, never>;
  "term.resize": Record<string, never>;
  "term.close": Record<string, never>;
  "term.list": { terminals: TerminalInfo[] };
  "fs.list": { entries: FileStat[] };
  "fs.stat": { stat: FileStat };
  "fs.read": { stream: number; size: number };
  "fs.write": { stream?: number; window?: number; bytes?: number; sha256?: string };
  "stream.end": { bytes: number; sha256: string };
  "stream.cancel": Record<string, never>;
  "fs.mkdir": Record<string, never>;
  "fs.rename": Record<string, never>;
  "fs.delete": Record<string, never>;
  "fs.watch": { watch: number };
  "fs.unwatch": Record<string, never>;
  "exec.run": { proc: number; pid: number };
  "exec.attach": { proc: number; exit?: { code: number | null; signal: string | null } };
  "exec.detach": Record<string, never>;
  "exec.kill": Record<string, never>;
  "exec.stdin.end": Record<string, never>;
  "exec.list": { procs: ProcInfo[] };
}

/** Validate a runner's text frame (for clients). */
export function parseRunnerMessage(text: string): { ok: true; message: RunnerMessage } | { ok: false; message: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, message: "runner message is not JSON" };
  }
  const r = v.safeParse(runnerMessageSchema, raw);
  return r.success ? { ok: true, message: r.output } : { ok: false, message: r.issues[0].message };
}

/** Scope each request needs (`ping` needs only a valid connection). */
export function scopeFor(t: ClientMessageType): "terminal" | "files" | "exec" | undefined {
  if (t.startsWith("term.")) return "terminal";
  if (t.startsWith("fs.") || t.startsWith("stream.")) return "files";
  if (t.startsWith("exec.")) return "exec";
  return undefined;
}
