import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { PermissionError } from "../../errors.ts";
import { TOKEN_SCOPES, type TokenRecord, type TokenScope } from "./model.ts";
import type { SessionStore } from "./store/types.ts";

/**
 * Who may call the control plane. Two credentials:
 * - API tokens (`devx session token create`): `dxt_<id>_<secret>`, random, shown once, stored only
 *   as a SHA-256 hash (a 32-byte random secret needs no slow hash), scoped, expiring, revocable;
 *   sent as `Authorization: Bearer`.
 * - Browser sign-in (GitHub OAuth, oauth.ts): a cookie holding `<user>.<expiry>.<HMAC>` under the
 *   control plane's cookie key, HttpOnly, SameSite=Lax, Secure behind https.
 * Every failure looks the same to the caller (401 without detail) and counts against the caller's
 * address in a rate-limit window shared by all replicas.
 */
export interface Principal {
  user: string;
  scopes: ReadonlySet<TokenScope>;
  /** how it authenticated, for logs */
  via: "token" | "cookie";
}

const TOKEN_RE = /^dxt_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;
const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

export function parseScopes(list: string[]): TokenScope[] {
  const out = new Set<TokenScope>();
  for (const s of list) {
    if (!(TOKEN_SCOPES as readonly string[]).includes(s)) throw new PermissionError(`unknown scope "${s}"`, `scopes are ${TOKEN_SCOPES.join(", ")}`);
    out.add(s as TokenScope);
  }
  return [...out];
}

/** A new token: the record to store and the token to show once. */
export function newToken(owner: string, scopes: TokenScope[], ttlMs: number | undefined, note?: string, now = Date.now()): { token: string; record: TokenRecord } {
  const id = randomBytes(9).toString("base64url").toLowerCase().replace(/[^a-z0-9]/g, "0").slice(0, 12);
  const token = `dxt_${id}_${randomBytes(32).toString("base64url")}`;
  return {
    token,
    record: { id, hash: sha256(token), owner, scopes, created: new Date(now).toISOString(), expires: ttlMs ? new Date(now + ttlMs).toISOString() : undefined, note },
  };
}

/** The principal a bearer token stands for, or undefined (wrong, revoked, expired: all the same to the caller). */
export async function checkToken(store: SessionStore, token: string | undefined, now = Date.now()): Promise<Principal | undefined> {
  const m = token ? TOKEN_RE.exec(token) : null;
  if (!m) return undefined;
  const rec = await store.getToken(m[1]!);
  if (!rec || rec.revoked || (rec.expires && Date.parse(rec.expires) <= now)) return undefined;
  const given = Buffer.from(sha256(token!), "hex");
  if (!timingSafeEqual(given, Buffer.from(rec.hash, "hex"))) return undefined;
  return { user: rec.owner, scopes: new Set(rec.scopes), via: "token" };
}

/** Signed cookie values for signed-in browsers (the control plane's key signs them; no server state). */
export const COOKIE = "devx_session";

export function signCookie(key: Uint8Array, user: string, ttlMs: number, now = Date.now()): string {
  const body = `${Buffer.from(user).toString("base64url")}.${Math.floor((now + ttlMs) / 1000)}`;
  return `${body}.${createHmac("sha256", key).update(body).digest("base64url")}`;
}

export function checkCookie(key: Uint8Array, value: string | undefined, now = Date.now()): string | undefined {
  const parts = value?.split(".");
  if (!parts || parts.length !== 3) return undefined;
  const [u, exp, sig] = parts as [string, string, string];
  const expected = createHmac("sha256", key).update(`${u}.${exp}`).digest();
  const given = Buffer.from(sig, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  if (Number(exp) * 1000 <= now) return undefined;
  return Buffer.from(u, "base64url").toString("utf8");
}

/** Browser users get what a write token gives: their own sessions. */
export const BROWSER_SCOPES: ReadonlySet<TokenScope> = new Set<TokenScope>(["sessions:read", "sessions:write"]);

export function cookieOf(req: Request, name = COOKIE): string | undefined {
  for (const part of (req.headers.get("cookie") ?? "").split(";")) {
    const [k, ...rest] = part.trim().split("=");
    if (k === name) return rest.join("=");
  }
  return undefined;
}

export function bearerOf(req: Request): string | undefined {
  const h = req.headers.get("authorization");
  return h?.startsWith("Bearer ") ? h.slice(7).trim() : undefined;
}
