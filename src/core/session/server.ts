import type { Server, ServerWebSocket } from "bun";
import * as v from "valibot";
import { isDevxError, messageOf, ProviderError } from "../../errors.ts";
import { mintToken, parseSecret, verifyToken, type Scope } from "../../session/protocol/token.ts";
import { TOKEN_SUBPROTOCOL_PREFIX } from "../../session/protocol/version.ts";
import { bearerOf, BROWSER_SCOPES, checkCookie, checkToken, COOKIE, cookieOf, type Principal } from "./auth.ts";
import { requireWrite, type SessionController } from "./controller.ts";
import type { SessionRecord } from "./model.ts";

/**
 * `devx session serve`'s HTTP surface:
 *   /healthz                                   liveness (no credential, no detail)
 *   /api/v1/sessions[/<id>[/start|/stop|/logs|/tokens|/previews/<port>]]   the API (JSON)
 *   /api/v1/templates                          templates
 *   /s/<id>/v1/…  /s/<id>/p/<port>/…           the session's runner (socket, files, previews),
 *                                              proxied after the runner token is checked here too
 *   /auth/…, / and /s/<id>/ (the web page)     served by web.ts when a page is configured
 * API calls need a Bearer token or a signed-in cookie; failures are counted per address and
 * answered 429 past the limit, with Retry-After. Error bodies are {error: {kind, message, hint}}.
 */
export interface ServerOptions {
  controller: SessionController;
  hostname: string;
  port: number;
  /** signs browser cookies (oauth.ts); undefined: API tokens only */
  cookieKey?: Uint8Array;
  /** extra routes (the web page, sign-in) tried before 404 */
  extra?(req: Request, url: URL, principal: () => Promise<Principal | undefined>): Promise<Response | undefined>;
  /** runner tokens handed to clients live this long */
  tokenTtlSeconds?: number;
  /** failed authentications per address per minute before 429 */
  authFailuresPerMinute?: number;
}

interface ProxyData {
  target: string;
  protocols: string[];
  /** what the runner is told about the client (credentials of the control plane removed) */
  headers: Record<string, string>;
  pendingBytes: number;
  upstream?: WebSocket;
  /** client messages that arrived before the upstream opened */
  pending: Array<string | Uint8Array>;
}

const createBody = v.strictObject({
  template: v.optional(v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9._-]{0,62}$/)), "default"),
  name: v.optional(v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9-]{2,40}$/))),
  cpus: v.optional(v.pipe(v.number(), v.minValue(0.1), v.maxValue(64))),
  memoryMiB: v.optional(v.pipe(v.number(), v.integer(), v.minValue(64), v.maxValue(262144))),
  pids: v.optional(v.pipe(v.number(), v.integer(), v.minValue(16), v.maxValue(65536))),
  egress: v.optional(v.boolean()),
  idleMinutes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(24 * 60))),
  maxHours: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(24 * 7))),
});
const tokenBody = v.strictObject({ scopes: v.optional(v.array(v.picklist(["terminal", "files", "exec", "preview"]))), ttlSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(60), v.maxValue(24 * 3600))) });
const previewBody = v.strictObject({ public: v.boolean() });

export function startControlPlane(o: ServerOptions): { server: Server<ProxyData>; url: string; stop(): Promise<void> } {
  const c = o.controller;
  const store = c.d.store;
  const limit = o.authFailuresPerMinute ?? 20;

  const principalOf = async (req: Request): Promise<Principal | undefined> => {
    const bearer = bearerOf(req);
    if (bearer) return checkToken(store, bearer);
    const user = o.cookieKey ? checkCookie(o.cookieKey, cookieOf(req)) : undefined;
    return user ? { user, scopes: BROWSER_SCOPES, via: "cookie" } : undefined;
  };

  const server = Bun.serve<ProxyData>({
    hostname: o.hostname,
    port: o.port,
    // creating or starting a session answers when its runner does (podman create + start): well past Bun's default 10 s on a busy machine
    idleTimeout: 120,
    async fetch(req, srv) {
      const url = new URL(req.url);
      const ip = srv.requestIP(req)?.address ?? "?";
      try {
        if (url.pathname === "/healthz") return new Response("ok\n");
        const s = /^\/s\/([a-z0-9-]{3,41})(\/.*)$/.exec(url.pathname);
        // the runner's admin calls are the control plane's own: never routed from outside, whatever the token
        if (s && /^\/v1\/admin(\/|$)/i.test(s[2]!)) return error(404, "not-found", `no route ${url.pathname}`, "");
        if (s && (s[2]!.startsWith("/v1/") || s[2]!.startsWith("/p/"))) return await proxy(req, url, srv, s[1]!, s[2]!, ip);
        if (url.pathname.startsWith("/api/v1/")) return await api(req, url, ip);
        const page = await o.extra?.(req, url, () => principalOf(req));
        if (page) return page;
        return error(404, "not-found", `no route ${url.pathname}`, "");
      } catch (e) {
        return fromError(e);
      }
    },
    websocket: {
      idleTimeout: 0,
      sendPings: false,
      perMessageDeflate: false,
      maxPayloadLength: 16 * 1024 * 1024,
      // the runner's own flow control bounds what is in flight; past this the socket closes rather than drop a frame
      backpressureLimit: 64 * 1024 * 1024,
      closeOnBackpressureLimit: true,
      open(ws) {
        const up = new WebSocket(ws.data.target, { protocols: ws.data.protocols, headers: ws.data.headers } as unknown as string[]);
        up.binaryType = "arraybuffer";
        ws.data.upstream = up;
        up.onopen = () => {
          for (const m of ws.data.pending) up.send(m);
          ws.data.pending = [];
        };
        up.onmessage = (e) => void ws.send(typeof e.data === "string" ? e.data : new Uint8Array(e.data as ArrayBuffer));
        up.onclose = (e) => ws.close(e.code >= 1000 && e.code < 5000 && e.code !== 1005 && e.code !== 1006 ? e.code : 1011, e.reason);
        up.onerror = () => ws.close(1011, "runner unreachable");
      },
      message(ws, m) {
        const up = ws.data.upstream;
        if (up?.readyState === WebSocket.OPEN) return void up.send(m);
        // the runner's socket is still opening: hold a bounded amount, then give up rather than buffer without end
        ws.data.pendingBytes += m.length;
        if (ws.data.pendingBytes > PENDING_LIMIT) return void ws.close(1013, "runner not ready");
        ws.data.pending.push(m);
      },
      close(ws: ServerWebSocket<ProxyData>, code, reason) {
        ws.data.upstream?.close(code >= 1000 && code < 5000 && code !== 1005 && code !== 1006 ? code : 1000, reason);
      },
    },
  });

  /** Bad credentials count against the caller's address, across replicas (the store's windows). */
  async function refuse(ip: string, status: 401 | 403, message: string): Promise<Response> {
    const n = await store.hit(`auth-fail:${ip}`, 60_000);
    if (n > limit) return new Response(JSON.stringify({ error: { kind: "rate-limited", message: "too many failed authentications", hint: "wait a minute" } }), { status: 429, headers: { "content-type": "application/json", "retry-after": "60" } });
    return error(status, status === 401 ? "unauthenticated" : "forbidden", message, status === 401 ? "send an API token (Authorization: Bearer dxt_…) or sign in" : "");
  }

  async function api(req: Request, url: URL, ip: string): Promise<Response> {
    const who = await principalOf(req);
    if (!who) return refuse(ip, 401, "no valid credential");
    const user = { name: who.user, admin: who.scopes.has("sessions:admin") };
    const path = url.pathname.slice("/api/v1".length);
    const m = /^\/sessions(?:\/([a-z0-9-]{3,41})(?:\/(start|stop|logs|tokens|previews\/(\d{1,5})))?)?$/.exec(path);
    if (m) {
      const [, id, action, port] = m;
      if (!id && req.method === "GET") return Response.json({ sessions: (await c.list(user)).map(view) });
      if (!id && req.method === "POST") {
        requireWrite(who.scopes);
        const b = await body(req, createBody);
        const r = await c.create({ owner: who.user, template: b.template, name: b.name, limits: { cpus: b.cpus, memoryMiB: b.memoryMiB, pids: b.pids }, egress: b.egress, idleMinutes: b.idleMinutes, maxHours: b.maxHours });
        return Response.json({ session: view(r) }, { status: 201 });
      }
      if (id && !action && req.method === "GET") return Response.json({ session: view(await c.get(id, user)) });
      if (id && !action && req.method === "DELETE") {
        requireWrite(who.scopes);
        await c.remove(id, user);
        return new Response(null, { status: 204 });
      }
      if (id && (action === "start" || action === "stop") && req.method === "POST") {
        requireWrite(who.scopes);
        const r = action === "start" ? await c.start(id, user) : await c.stop(id, user);
        return Response.json({ session: view(r) });
      }
      if (id && action === "logs" && req.method === "GET") {
        await c.get(id, user);
        const tail = Number(url.searchParams.get("tail") ?? 200);
        if (!Number.isInteger(tail) || tail < 1 || tail > 100_000) throw new BadRequest("tail: a whole number of lines, 1–100000");
        return new Response(await c.d.backend.logs(id, { tail }), { headers: { "content-type": "text/plain; charset=utf-8" } });
      }
      if (id && action === "tokens" && req.method === "POST") {
        requireWrite(who.scopes);
        const r = await c.get(id, user);
        if (r.state !== "running") return error(409, "conflict", `session ${id} is ${r.state}`, "start it first");
        const b = await body(req, tokenBody);
        const scopes: Scope[] = b.scopes ?? ["terminal", "files", "exec", "preview"];
        const ttl = b.ttlSeconds ?? o.tokenTtlSeconds ?? 3600;
        const token = mintToken(parseSecret(r.secret), { session: id, user: who.user, scopes, ttlSeconds: ttl });
        return Response.json({ token, expiresIn: ttl, socket: `/s/${id}/v1/session`, files: `/s/${id}/v1/files/`, preview: `/s/${id}/p/` }, { status: 201 });
      }
      if (id && port && action?.startsWith("previews/") && req.method === "PUT") {
        requireWrite(who.scopes);
        if (Number(port) < 1 || Number(port) > 65535) throw new BadRequest("preview ports are 1–65535");
        const b = await body(req, previewBody);
        const r = await c.setPreview(id, Number(port), b.public, user);
        if (r.state === "running" && r.runner) await runnerAdmin(r, `/v1/admin/previews/${port}`, { public: b.public });
        return Response.json({ port: Number(port), public: b.public });
      }
    }
    if (path === "/templates" && req.method === "GET") return Response.json({ templates: await store.listTemplates() });
    return error(404, "not-found", `no API call ${req.method} ${path}`, "see docs/session-api.md");
  }

  /** /s/<id>/v1/… and /s/<id>/p/<port>/…: checked here, then passed to the session's runner as is. */
  async function proxy(req: Request, url: URL, srv: Server<ProxyData>, id: string, rest: string, ip: string): Promise<Response | undefined> {
    const r = await store.getSession(id);
    if (!r || r.state !== "running" || !r.runner) return error(r ? 409 : 404, r ? "conflict" : "not-found", r ? `session ${id} is ${r.state}` : `no session ${id}`, r ? "start it first" : "");
    const preview = /^\/p\/(\d{1,5})\//.exec(rest);
    const isPublicPreview = preview && r.publicPorts.includes(Number(preview[1]));
    if (!isPublicPreview) {
      const token = runnerTokenOf(req, url, preview !== null);
      const ok = verifyToken(token, parseSecret(r.secret), { session: id });
      if (!ok.ok) return refuse(ip, ok.reason === "wrong-session" || ok.reason === "wrong-scope" ? 403 : 401, `runner token refused (${ok.reason})`);
    }
    const target = `${r.runner.url}${rest}${url.search}`;
    const headers = forwardHeaders(req, url, id);
    if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
      const protocols = (req.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim()).filter(Boolean);
      const ours = protocols.find((p) => !p.startsWith(TOKEN_SUBPROTOCOL_PREFIX));
      const wsHeaders: Record<string, string> = {};
      headers.forEach((val, k) => {
        if (!WS_HANDSHAKE.has(k)) wsHeaders[k] = val;
      });
      if (srv.upgrade(req, { data: { target: target.replace(/^http/, "ws"), protocols, headers: wsHeaders, pending: [], pendingBytes: 0 }, headers: ours ? { "sec-websocket-protocol": ours } : undefined })) return undefined;
      return error(400, "bad-request", "WebSocket upgrade failed", "");
    }
    let res: Response;
    try {
      // as the runner sent it: a preview's gzip stays gzip with its own content-encoding and length
      res = await fetch(target, { method: req.method, headers, body: req.method === "GET" || req.method === "HEAD" ? undefined : req.body, redirect: "manual", decompress: false, duplex: "half" } as RequestInit);
    } catch {
      return error(502, "bad-gateway", `the runner of ${id} does not answer`, "see `devx session logs`");
    }
    const out = new Headers(res.headers);
    for (const h of HOP_BY_HOP) out.delete(h);
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers: out });
  }

  async function runnerAdmin(r: SessionRecord, path: string, payload: unknown): Promise<void> {
    const admin = mintToken(parseSecret(r.secret), { session: r.id, user: "control-plane", scopes: ["admin"], ttlSeconds: 60 });
    const res = await fetch(`${r.runner!.url}${path}`, { method: "PUT", headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" }, body: JSON.stringify(payload) });
    if (!res.ok) throw new ProviderError(`the runner refused ${path}: ${res.status}`, "see the session's logs; the sandbox may be stopping");
  }

  return {
    server,
    url: `http://${o.hostname}:${server.port}`,
    async stop() {
      await server.stop(true);
    },
  };
}

/** What the API shows of a session: never its secret. */
export function view(r: SessionRecord) {
  const { secret: _s, runner: _r, version: _v, ...rest } = r;
  return { ...rest, running: r.state === "running" };
}

/**
 * The runner token: Bearer, a `devx.token.<t>` subprotocol (browsers' WebSockets), or `?token=`;
 * for previews also where the runner takes it (`?devx_token=`, `X-Devx-Token`, its per-port cookie).
 */
function runnerTokenOf(req: Request, url: URL, isPreview: boolean): string | undefined {
  const bearer = bearerOf(req);
  if (bearer) return bearer;
  const sub = (req.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim()).find((p) => p.startsWith(TOKEN_SUBPROTOCOL_PREFIX));
  if (sub) return sub.slice(TOKEN_SUBPROTOCOL_PREFIX.length);
  const query = url.searchParams.get("token");
  if (query) return query;
  if (!isPreview) return undefined;
  return url.searchParams.get("devx_token") ?? req.headers.get("x-devx-token") ?? cookieOf(req, PREVIEW_COOKIE) ?? undefined;
}

const PREVIEW_COOKIE = "devx_preview";
const PENDING_LIMIT = 4 * 1024 * 1024;
const HOP_BY_HOP = ["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"];
const WS_HANDSHAKE = new Set(["connection", "upgrade", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol", "host", "content-length"]);

/**
 * What the runner (and a preview app behind it) is told: the client's headers minus hop-by-hop
 * ones and the control plane's own sign-in cookie (code in the sandbox must never see it), plus
 * where it is mounted (`X-Forwarded-Prefix: /s/<id>`, for preview cookies and redirects).
 */
export function forwardHeaders(req: Request, url: URL, id: string): Headers {
  const h = new Headers(req.headers);
  for (const k of [...HOP_BY_HOP.filter((x) => x !== "upgrade" && x !== "connection"), "host"]) h.delete(k);
  const cookies = (req.headers.get("cookie") ?? "")
    .split(";")
    .map((c) => c.trim())
    .filter((c) => c && c.split("=")[0]!.trim() !== COOKIE);
  if (cookies.length) h.set("cookie", cookies.join("; "));
  else h.delete("cookie");
  h.set("x-forwarded-prefix", `/s/${id}`);
  h.set("x-forwarded-host", req.headers.get("x-forwarded-host") ?? req.headers.get("host") ?? url.host);
  h.set("x-forwarded-proto", req.headers.get("x-forwarded-proto") ?? url.protocol.replace(":", ""));
  return h;
}

async function body<T extends v.GenericSchema>(req: Request, schema: T): Promise<v.InferOutput<T>> {
  const text = await req.text();
  if (text.length > 64 * 1024) throw new BadRequest("request body too large");
  let raw: unknown;
  try {
    raw = text.trim() === "" ? {} : JSON.parse(text);
  } catch {
    throw new BadRequest("the body is not JSON");
  }
  const r = v.safeParse(schema, raw);
  if (!r.success) throw new BadRequest(`${r.issues[0].path?.map((p) => String(p.key)).join(".") ?? "body"}: ${r.issues[0].message}`);
  return r.output;
}

class BadRequest extends Error {}

const STATUS: Record<string, number> = { usage: 400, "not-found": 404, conflict: 409, permission: 403, provider: 502, network: 502, unhealthy: 503, integrity: 500, config: 500 };

function fromError(e: unknown): Response {
  if (e instanceof BadRequest) return error(400, "bad-request", e.message, "see docs/session-api.md");
  if (isDevxError(e)) return error(STATUS[e.kind] ?? 500, e.kind, e.message, e.hint);
  return error(500, "internal", messageOf(e), "see the control plane's log");
}

function error(status: number, kind: string, message: string, hint: string): Response {
  return new Response(JSON.stringify({ error: { kind, message, hint } }), { status, headers: { "content-type": "application/json" } });
}
