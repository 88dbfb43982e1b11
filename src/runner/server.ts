import type { Server, ServerWebSocket } from "bun";
import { LIMITS, PROTOCOL_VERSION, RUNNER_EXIT, type StopReason } from "../session/protocol/index.ts";
import { admin } from "./admin.ts";
import { jsonError, negotiateVersion, refusal, socketToken } from "./auth.ts";
import { Connection, type SessionSocketData } from "./connection.ts";
import { fileHttp } from "./file-http.ts";
import { handleMessage } from "./handlers.ts";
import { preview, previewSocket, type PreviewSocketData } from "./preview.ts";
import { Session, type RunnerConfig } from "./session.ts";

/**
 * `devx runner`'s server: one Bun.serve on the sandbox's port with
 *   GET  /healthz            readiness (no token, no details)
 *   GET  /v1/session         the session socket (WebSocket; token checked before the upgrade)
 *   GET|PUT /v1/files/<path> download / upload (token with `files`)
 *   /v1/admin/...            the control plane's calls (token with `admin`)
 *   /p/<port>/...            previews (HTTP and WebSocket)
 * Anything else is 404. docs/session-protocol.md describes each.
 */
type SocketData = SessionSocketData | PreviewSocketData;

export interface RunnerHandle {
  port: number;
  url: string;
  session: Session;
  /** resolves with the exit code once the session has stopped and the server is closed */
  done: Promise<number>;
  stop(reason?: StopReason): Promise<number>;
}

export const VERSION_HEADER = "x-devx-protocol";

export function startRunner(cfg: RunnerConfig): RunnerHandle {
  const s = new Session(cfg);
  const server: Server<SocketData> = Bun.serve<SocketData>({
    hostname: cfg.hostname,
    port: cfg.port,
    async fetch(req, server) {
      const url = new URL(req.url);
      const path = url.pathname;
      if (s.stopping) return jsonError(503, "stopping", "the session is stopping");
      if (path === "/healthz") return new Response("ok\n");
      if (path === "/v1/session") return sessionUpgrade(req, url, server);
      if (path.startsWith("/v1/files/")) return fileHttp(s, req, url, path.slice("/v1/files/".length));
      if (path.startsWith("/v1/admin/")) return admin(s, req, path.slice("/v1/admin".length));
      const p = /^\/p\/(\d{1,5})(\/.*)?$/.exec(path);
      if (p) {
        if (p[2] === undefined) return new Response(null, { status: 308, headers: { location: `${path}/${url.search}` } });
        return preview(s, server as unknown as Server<unknown>, req, url, Number(p[1]), p[2]);
      }
      return jsonError(404, "not-found", `no route ${path}`);
    },
    websocket: {
      // the runner sends its own pings and enforces its own timeout (heartbeatMs / heartbeatTimeoutMs)
      idleTimeout: 0,
      sendPings: false,
      perMessageDeflate: false,
      maxPayloadLength: 16 * 1024 * 1024,
      // never reached under the runner's own flow control; if it were, closing beats dropping
      backpressureLimit: 64 * 1024 * 1024,
      closeOnBackpressureLimit: true,
      open(ws) {
        if (ws.data.kind === "preview") return previewSocket.open(s, ws as ServerWebSocket<PreviewSocketData>);
        const data = ws.data;
        const conn = new Connection(ws as ServerWebSocket<SessionSocketData>, data.claims, (c, m) => handleMessage(s, c, m), (l) => s.log(l));
        data.conn = conn;
        s.connections.add(conn);
        conn.sendJson({
          t: "hello",
          v: PROTOCOL_VERSION,
          session: cfg.session,
          user: data.claims.sub,
          scopes: data.claims.scp,
          runner: "devx",
          heartbeat: { intervalMs: cfg.heartbeatMs, timeoutMs: cfg.heartbeatTimeoutMs },
          limits: { maxInMessage: LIMITS.maxInMessage, maxOutFramePayload: LIMITS.maxOutFramePayload, streamWindow: LIMITS.streamWindow, maxInboundQueue: LIMITS.maxInboundQueue, scrollback: cfg.scrollback },
        });
      },
      message(ws, msg) {
        if (ws.data.kind === "preview") return previewSocket.message(s, ws as ServerWebSocket<PreviewSocketData>, msg);
        const conn = ws.data.conn!;
        const bytes = typeof msg === "string" ? msg.length : msg.length;
        if (bytes > LIMITS.maxInMessage) return conn.protocolError(`message of ${bytes} bytes exceeds ${LIMITS.maxInMessage}`);
        conn.onMessage(typeof msg === "string" ? msg : new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength));
      },
      drain(ws) {
        if (ws.data.kind === "session") ws.data.conn?.onDrain();
      },
      pong(ws) {
        if (ws.data.kind === "session" && ws.data.conn) ws.data.conn.lastSeen = Date.now();
      },
      close(ws, code, reason) {
        if (ws.data.kind === "preview") return previewSocket.close(s, ws as ServerWebSocket<PreviewSocketData>, code, reason);
        const conn = ws.data.conn;
        if (!conn) return;
        conn.cleanup();
        s.connections.delete(conn);
      },
    },
  });

  function sessionUpgrade(req: Request, url: URL, server: Server<SocketData>): Response | undefined {
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") return jsonError(426, "upgrade-required", "the session endpoint is a WebSocket");
    const version = negotiateVersion(req);
    if (version instanceof Response) return version;
    const auth = s.verify(socketToken(req, url), ["terminal", "files", "exec"]);
    if (!auth.ok) return refusal(auth.reason);
    if (s.connections.size >= cfg.maxConnections) return jsonError(503, "too-many-connections", `the session has ${cfg.maxConnections} clients already`);
    const headers: Record<string, string> = { [VERSION_HEADER]: String(PROTOCOL_VERSION) };
    if (version.protocol) headers["sec-websocket-protocol"] = version.protocol;
    if (server.upgrade(req, { data: { kind: "session", claims: auth.claims }, headers })) return undefined;
    return jsonError(400, "bad-request", "WebSocket upgrade failed");
  }

  s.start();
  const done = s.done.then(async (reason) => {
    // the sockets were told and closed by Session.stop; give their close frames a moment to leave
    await Bun.sleep(50);
    server.stop(true);
    return RUNNER_EXIT[reason];
  });
  cfg.log(`runner for session ${cfg.session} listening on ${server.hostname}:${server.port}, workspace ${s.ws.root}`);
  return {
    port: server.port!,
    url: `http://${server.hostname}:${server.port}`,
    session: s,
    done,
    async stop(reason = "stopped") {
      await s.stop(reason);
      return done;
    },
  };
}

