import { isUnauthenticated, SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX, type TokenRefusal } from "../session/protocol/index.ts";

/**
 * Where a request's token comes from, per surface (docs/session-protocol.md, "Authentication"):
 * the session socket takes it from the `devx.token.<token>` subprotocol entry (browsers), an
 * `Authorization: Bearer` header (other clients) or a `token` query parameter; the file API from
 * the header (or `token` on GET, for download links); previews from a cookie, `X-Devx-Token` or a
 * one-time `devx_token` query parameter; the admin API from the header only.
 */
export function bearer(req: Request): string | undefined {
  const h = req.headers.get("authorization");
  const m = h ? /^Bearer\s+(\S+)$/i.exec(h) : null;
  return m?.[1];
}

export function offeredProtocols(req: Request): string[] {
  return (req.headers.get("sec-websocket-protocol") ?? "")
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean);
}

export function socketToken(req: Request, url: URL): string | undefined {
  const fromProtocol = offeredProtocols(req).find((p) => p.startsWith(TOKEN_SUBPROTOCOL_PREFIX));
  return fromProtocol?.slice(TOKEN_SUBPROTOCOL_PREFIX.length) ?? bearer(req) ?? url.searchParams.get("token") ?? undefined;
}

/**
 * The version subprotocol to answer with, or a refusal. A client that offers subprotocols must
 * offer `devx.v1` (a browser fails a handshake whose answer is not one it offered, and the token
 * entry is never echoed); one that offers none speaks v1.
 */
export function negotiateVersion(req: Request): { protocol?: string } | Response {
  const offered = offeredProtocols(req);
  if (offered.length === 0) return {};
  if (offered.includes(SUBPROTOCOL)) return { protocol: SUBPROTOCOL };
  return jsonError(400, "unsupported-version", `offer the "${SUBPROTOCOL}" subprotocol; this runner speaks protocol v1 only`);
}

export function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.get("cookie") ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** 401 for "who are you?" (missing, malformed, bad signature, expired, revoked), 403 for "not for this". */
export function refusal(reason: TokenRefusal): Response {
  const status = isUnauthenticated(reason) ? 401 : 403;
  const headers: Record<string, string> = { "content-type": "application/json", "cache-control": "no-store" };
  if (status === 401) headers["www-authenticate"] = `Bearer realm="devx-session", error="invalid_token"`;
  return new Response(JSON.stringify({ error: reason, message: REFUSAL_TEXT[reason] }), { status, headers });
}

const REFUSAL_TEXT: Record<TokenRefusal, string> = {
  missing: "a session token is required",
  malformed: "the session token is malformed",
  "bad-signature": "the session token was not signed for this session",
  expired: "the session token has expired; ask the control plane for a new one",
  "not-yet-valid": "the session token is not valid yet (clock skew?)",
  "too-long-lived": "the session token's lifetime is longer than this runner accepts",
  "wrong-session": "the session token is for another session",
  "wrong-scope": "the session token does not grant this",
  revoked: "the session token was revoked",
};

export function jsonError(status: number, error: string, message: string): Response {
  return Response.json({ error, message }, { status, headers: { "cache-control": "no-store" } });
}
