import type { Server, ServerWebSocket } from "bun";
import { cookie, jsonError, refusal } from "./auth.ts";
import type { Session } from "./session.ts";

/**
 * Previews: `/p/<port>/<path>` is proxied to `http://127.0.0.1:<port>/<path>` inside the sandbox,
 * HTTP and WebSocket alike. Private unless the control plane made the port public: a private port
 * needs a token with the `preview` scope, given once as `?devx_token=` (answered with a redirect
 * that sets an HttpOnly cookie scoped to that port's path), as the cookie, or as `X-Devx-Token`.
 * The devx credentials are removed before the request reaches the app. Requests and messages
 * count as activity.
 */
export const PREVIEW_COOKIE = "devx_preview";
const QUERY_TOKEN = "devx_token";
const HOP_BY_HOP = ["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "host", "x-devx-token", "sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-protocol", "content-length"];
/** buffered bytes on either side of a preview socket past which it is closed (1013) rather than grown */
const WS_BUFFER_LIMIT = 16 * 1024 * 1024;

export interface PreviewSocketData {
  kind: "preview";
  upstream: WebSocket;
  port: number;
}

export async function preview(s: Session, server: Server<unknown>, req: Request, url: URL, port: number, rest: string): Promise<Response | undefined> {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return jsonError(400, "bad-request", "preview ports are 1–65535");
  if (port === server.port) return jsonError(403, "forbidden", "the runner's own port is not a preview");
  const prefix = forwardedPrefix(req);
  const isPublic = s.publicPorts.has(port);
  const queryToken = url.searchParams.get(QUERY_TOKEN);
  if (!isPublic) {
    const token = queryToken ?? req.headers.get("x-devx-token") ?? cookie(req, PREVIEW_COOKIE);
    const auth = s.verify(token, ["preview"]);
    if (!auth.ok) return refusal(auth.reason);
    // a browser's first visit: move the token from the address bar into a cookie for this port
    if (queryToken && !isUpgrade(req)) {
      url.searchParams.delete(QUERY_TOKEN);
      const maxAge = Math.max(0, auth.claims.exp - Math.floor(Date.now() / 1000));
      const secure = req.headers.get("x-forwarded-proto") === "https" ? "; Secure" : "";
      const location = `${prefix}/p/${port}${rest}${url.search}`;
      return new Response(null, { status: 303, headers: { location, "set-cookie": `${PREVIEW_COOKIE}=${queryToken}; Path=${prefix}/p/${port}/; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure}`, "cache-control": "no-store" } });
    }
  }
  url.searchParams.delete(QUERY_TOKEN);
  s.activity.touch("preview");
  const headers = forwardHeaders(req, port, prefix);
  if (isUpgrade(req)) return upgrade(s, server, req, port, rest + url.search, headers);
  try {
    const upstream = await fetch(`http://127.0.0.1:${port}${rest}${url.search}`, {
      method: req.method,
      headers,
      body: req.method === "GET" || req.method === "HEAD" ? undefined : req.body,
      redirect: "manual",
      decompress: false,
    } as RequestInit);
    const out = new Headers(upstream.headers);
    for (const h of ["connection", "keep-alive", "transfer-encoding"]) out.delete(h);
    return new Response(upstream.body, { status: upstream.status, statusText: upstream.statusText, headers: out });
  } catch {
    return jsonError(502, "bad-gateway", `nothing answers on port ${port} in the sandbox`);
  }
}

function isUpgrade(req: Request): boolean {
  return req.headers.get("upgrade")?.toLowerCase() === "websocket";
}

/** The path prefix the control plane mounted the runner under (for cookie paths and redirects). */
function forwardedPrefix(req: Request): string {
  const p = req.headers.get("x-forwarded-prefix") ?? "";
  return /^(\/[A-Za-z0-9._~-]+)*$/.test(p) ? p : "";
}

function forwardHeaders(req: Request, port: number, prefix: string): Headers {
  const h = new Headers();
  req.headers.forEach((v, k) => {
    if (!HOP_BY_HOP.includes(k)) h.set(k, v);
  });
  const cookies = (req.headers.get("cookie") ?? "")
    .split(";")
    .map((c) => c.trim())
    .filter((c) => c && !c.startsWith(`${PREVIEW_COOKIE}=`));
  if (cookies.length > 0) h.set("cookie", cookies.join("; "));
  else h.delete("cookie");
  h.set("host", `localhost:${port}`);
  h.set("x-forwarded-host", req.headers.get("x-forwarded-host") ?? req.headers.get("host") ?? "");
  h.set("x-forwarded-proto", req.headers.get("x-forwarded-proto") ?? "http");
  h.set("x-forwarded-prefix", `${prefix}/p/${port}`);
  return h;
}

async function upgrade(s: Session, server: Server<unknown>, req: Request, port: number, pathAndQuery: string, headers: Headers): Promise<Response | undefined> {
  const protocols = (req.headers.get("sec-websocket-protocol") ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
  const upstream = new WebSocket(`ws://127.0.0.1:${port}${pathAndQuery}`, { protocols, headers: headerRecord(headers) } as unknown as string[]);
  upstream.binaryType = "arraybuffer";
  const opened = await new Promise<boolean>((resolve) => {
    upstream.onopen = () => resolve(true);
    upstream.onerror = () => resolve(false);
    upstream.onclose = () => resolve(false);
  });
  if (!opened) return jsonError(502, "bad-gateway", `no WebSocket answers on port ${port} in the sandbox`);
  const data: PreviewSocketData = { kind: "preview", upstream, port };
  const ok = (server as Server<PreviewSocketData>).upgrade(req, { data, headers: upstream.protocol ? { "sec-websocket-protocol": upstream.protocol } : undefined });
  if (!ok) {
    upstream.close();
    return jsonError(400, "bad-request", "WebSocket upgrade failed");
  }
  return undefined;
}

/** WebSocket handlers for preview sockets (the server dispatches by `ws.data.kind`). */
export const previewSocket = {
  open(s: Session, ws: ServerWebSocket<PreviewSocketData>): void {
    const up = ws.data.upstream;
    s.previewSockets.add(ws);
    up.onmessage = (e) => {
      ws.send(typeof e.data === "string" ? e.data : new Uint8Array(e.data as ArrayBuffer));
      if (ws.getBufferedAmount() > WS_BUFFER_LIMIT) {
        ws.close(1013, "client too slow");
        closeQuietly(up, 1000, "client too slow");
      }
    };
    up.onclose = (e) => ws.close(e.code === 1005 || e.code === 1006 ? 1000 : e.code, e.reason);
    up.onerror = () => ws.close(1011, "preview app socket error");
  },
  message(s: Session, ws: ServerWebSocket<PreviewSocketData>, msg: string | Uint8Array): void {
    s.activity.touch("preview");
    const up = ws.data.upstream;
    up.send(msg);
    if (up.bufferedAmount > WS_BUFFER_LIMIT) {
      ws.close(1013, "preview app too slow");
      closeQuietly(up, 1000, "preview app too slow");
    }
  },
  close(s: Session, ws: ServerWebSocket<PreviewSocketData>, code: number, reason: string): void {
    s.previewSockets.delete(ws);
    const up = ws.data.upstream;
    if (up.readyState === WebSocket.OPEN || up.readyState === WebSocket.CONNECTING) closeQuietly(up, code >= 3000 && code <= 4999 ? code : 1000, reason);
  },
};

/** A client socket only takes 1000 and 3000–4999 as close codes. */
function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason.slice(0, 120));
  } catch {
    ws.close();
  }
}

function headerRecord(h: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  h.forEach((v, k) => (out[k] = v));
  return out;
}
