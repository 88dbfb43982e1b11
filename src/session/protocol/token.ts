import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import * as v from "valibot";
import { LIMITS } from "./version.ts";

/**
 * Session tokens: what a client shows the runner (and the control plane's router) to open a socket,
 * call the file API or reach a private preview. Compact and self-contained, so the runner checks
 * one without calling anyone:
 *
 *   dxs1.<base64url(JSON claims)>.<base64url(HMAC-SHA256(secret, "dxs1." + claims part))>
 *
 * The secret is per session: the control plane creates it with the session and hands it to that
 * session's runner only (a 0600 file or stdin), so a token minted for one session is worthless on
 * every other. The signature is checked before the claims are parsed, in constant time.
 */
export const TOKEN_PREFIX = "dxs1";

export const SCOPES = ["terminal", "files", "exec", "preview", "admin"] as const;
/**
 * What a token allows: `terminal` (open/attach/type), `files` (file API over the socket and HTTP),
 * `exec` (run commands), `preview` (private preview ports), `admin` (the control plane's calls:
 * status, stop, revoke, preview visibility; never given to people).
 */
export type Scope = (typeof SCOPES)[number];

export interface TokenClaims {
  /** session id the token is for */
  sid: string;
  /** the user it was minted for (shown in logs and status) */
  sub: string;
  /** issued at, Unix seconds */
  iat: number;
  /** expires at, Unix seconds */
  exp: number;
  /** unique id, so a single token can be revoked */
  jti: string;
  /** granted scopes; names this version does not know are kept but grant nothing */
  scp: string[];
}

export type TokenRefusal =
  | "missing"
  | "malformed"
  | "bad-signature"
  | "expired"
  | "not-yet-valid"
  | "too-long-lived"
  | "wrong-session"
  | "wrong-scope"
  | "revoked";

export type VerifyResult = { ok: true; claims: TokenClaims } | { ok: false; reason: TokenRefusal };

/** Refusals that mean "who are you?" (HTTP 401) rather than "not for this" (403). */
export function isUnauthenticated(reason: TokenRefusal): boolean {
  return reason !== "wrong-session" && reason !== "wrong-scope";
}

export const MIN_SECRET_BYTES = 32;
export const DEFAULT_SKEW_SECONDS = 30;
/** A runner refuses tokens whose lifetime (exp − iat) is longer than this, however they were signed. */
export const DEFAULT_MAX_TTL_SECONDS = 24 * 3600;

export function generateSecret(): Uint8Array {
  return new Uint8Array(randomBytes(MIN_SECRET_BYTES));
}

/** A secret as written to the runner's secret file or stdin: hex or base64url, at least 32 bytes. */
export function parseSecret(text: string): Uint8Array {
  const s = text.trim();
  let bytes: Uint8Array | undefined;
  if (/^(?:[0-9a-fA-F]{2})+$/.test(s)) bytes = new Uint8Array(Buffer.from(s, "hex"));
  else if (/^[A-Za-z0-9_-]+$/.test(s)) bytes = new Uint8Array(Buffer.from(s, "base64url"));
  if (!bytes) throw new Error("the session secret is neither hex nor base64url");
  if (bytes.length < MIN_SECRET_BYTES) throw new Error(`the session secret is ${bytes.length} bytes; at least ${MIN_SECRET_BYTES} are needed`);
  return bytes;
}

export function encodeSecret(secret: Uint8Array): string {
  return Buffer.from(secret).toString("hex");
}

const idPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

const claimsSchema = v.strictObject({
  sid: v.pipe(v.string(), v.regex(idPattern)),
  sub: v.pipe(v.string(), v.minLength(1), v.maxLength(256)),
  iat: v.pipe(v.number(), v.integer(), v.minValue(0)),
  exp: v.pipe(v.number(), v.integer(), v.minValue(0)),
  jti: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{8,64}$/)),
  scp: v.pipe(v.array(v.pipe(v.string(), v.maxLength(32))), v.maxLength(16)),
});

export interface MintOptions {
  session: string;
  user: string;
  scopes: readonly Scope[];
  ttlSeconds: number;
  /** milliseconds since the epoch (tests pin it) */
  now?: number;
  jti?: string;
}

export function mintToken(secret: Uint8Array, o: MintOptions): string {
  if (secret.length < MIN_SECRET_BYTES) throw new Error("session secret too short");
  const iat = Math.floor((o.now ?? Date.now()) / 1000);
  const claims: TokenClaims = { sid: o.session, sub: o.user, iat, exp: iat + Math.ceil(o.ttlSeconds), jti: o.jti ?? randomBytes(12).toString("base64url"), scp: [...o.scopes] };
  if (!v.is(claimsSchema, claims)) throw new Error("invalid token claims (session id, user or jti)");
  const body = `${TOKEN_PREFIX}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  return `${body}.${sign(secret, body).toString("base64url")}`;
}

export interface VerifyOptions {
  /** the session this runner serves */
  session: string;
  /** the token must grant at least one of these (none given: any valid token for the session) */
  anyOf?: readonly Scope[];
  /** milliseconds since the epoch */
  now?: number;
  skewSeconds?: number;
  maxTtlSeconds?: number;
  isRevoked?(jti: string): boolean;
}

export function verifyToken(token: string | undefined | null, secret: Uint8Array, o: VerifyOptions): VerifyResult {
  if (!token) return { ok: false, reason: "missing" };
  if (token.length > LIMITS.maxTokenLength) return { ok: false, reason: "malformed" };
  const parts = token.split(".");
  if (parts.length !== 3 || parts[0] !== TOKEN_PREFIX) return { ok: false, reason: "malformed" };
  const [, payload, sig] = parts as [string, string, string];
  const given = strictBase64url(sig);
  const payloadBytes = strictBase64url(payload);
  if (!given || !payloadBytes) return { ok: false, reason: "malformed" };
  const expected = sign(secret, `${TOKEN_PREFIX}.${payload}`);
  // equal lengths first: timingSafeEqual throws on a mismatch, and the HMAC length is public anyway
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: "bad-signature" };

  let claims: unknown;
  try {
    claims = JSON.parse(payloadBytes.toString("utf8"));
  } catch {
    return { ok: false, reason: "malformed" };
  }
  if (!v.is(claimsSchema, claims)) return { ok: false, reason: "malformed" };
  const now = (o.now ?? Date.now()) / 1000;
  const skew = o.skewSeconds ?? DEFAULT_SKEW_SECONDS;
  if (claims.exp - claims.iat > (o.maxTtlSeconds ?? DEFAULT_MAX_TTL_SECONDS) || claims.exp < claims.iat) return { ok: false, reason: "too-long-lived" };
  if (now > claims.exp + skew) return { ok: false, reason: "expired" };
  if (claims.iat > now + skew) return { ok: false, reason: "not-yet-valid" };
  if (claims.sid !== o.session) return { ok: false, reason: "wrong-session" };
  if (o.isRevoked?.(claims.jti)) return { ok: false, reason: "revoked" };
  if (o.anyOf && o.anyOf.length > 0 && !o.anyOf.some((s) => claims.scp.includes(s))) return { ok: false, reason: "wrong-scope" };
  return { ok: true, claims };
}

export function hasScope(claims: TokenClaims, scope: Scope): boolean {
  return claims.scp.includes(scope);
}

function sign(secret: Uint8Array, body: string): Buffer {
  return createHmac("sha256", secret).update(body).digest();
}

/** base64url without padding, in its one canonical spelling (no second encoding of the same bytes). */
function strictBase64url(s: string): Buffer | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(s)) return undefined;
  const b = Buffer.from(s, "base64url");
  return b.toString("base64url") === s ? b : undefined;
}
