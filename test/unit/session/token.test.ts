import { describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { generateSecret, isUnauthenticated, mintToken, parseSecret, verifyToken, encodeSecret, type Scope } from "../../../src/session/protocol/index.ts";

const secret = generateSecret();
const NOW = 1_800_000_000_000;
const mint = (o: Partial<{ session: string; scopes: Scope[]; ttlSeconds: number; now: number; user: string }> = {}, key = secret) =>
  mintToken(key, { session: o.session ?? "s1", user: o.user ?? "alice", scopes: o.scopes ?? ["terminal"], ttlSeconds: o.ttlSeconds ?? 300, now: o.now ?? NOW });
const verify = (token: string | undefined, o: Partial<Parameters<typeof verifyToken>[2]> = {}, key = secret) => verifyToken(token, key, { session: "s1", anyOf: ["terminal"], now: NOW, ...o });
const reason = (r: ReturnType<typeof verifyToken>) => (r.ok ? "ok" : r.reason);

/** Re-sign claims with the real key: for claims mintToken itself would never produce. */
function forge(claims: unknown, key = secret): string {
  const body = `dxs1.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
  return `${body}.${createHmac("sha256", key).update(body).digest("base64url")}`;
}

describe("session token", () => {
  test("a minted token verifies and carries its claims", () => {
    const r = verify(mint({ scopes: ["terminal", "files"] }));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.claims).toMatchObject({ sid: "s1", sub: "alice", iat: NOW / 1000, exp: NOW / 1000 + 300, scp: ["terminal", "files"] });
    expect(r.claims.jti).toMatch(/^[A-Za-z0-9_-]{16}$/);
  });

  test("is compact", () => {
    expect(mint({ scopes: ["terminal", "files", "exec", "preview"] }).length).toBeLessThan(260);
  });

  test("refuses a missing token", () => {
    expect(reason(verify(undefined))).toBe("missing");
    expect(reason(verify(""))).toBe("missing");
  });

  test("refuses malformed tokens", () => {
    const good = mint();
    const [, p, s] = good.split(".");
    for (const bad of ["x", "dxs1.a", `dxs2.${p}.${s}`, `dxs1.${p}.${s}.x`, `dxs1.${p}!.${s}`, `dxs1..${s}`, "a".repeat(5000)]) {
      expect(reason(verify(bad))).toBe("malformed");
    }
    // a signature in a second spelling of the same bytes (padding) is not the token
    expect(reason(verify(`dxs1.${p}.${s}=`))).toBe("malformed");
  });

  test("refuses a tampered token: changed claims, changed signature, another key", () => {
    const good = mint({ scopes: ["files"] });
    const [, p, s] = good.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, "base64url").toString());
    const elevated = Buffer.from(JSON.stringify({ ...claims, scp: ["terminal", "files", "admin"] })).toString("base64url");
    expect(reason(verify(`dxs1.${elevated}.${s}`))).toBe("bad-signature");
    const flipped = Buffer.from(s, "base64url");
    flipped[0]! ^= 1;
    expect(reason(verify(`dxs1.${p}.${flipped.toString("base64url")}`))).toBe("bad-signature");
    expect(reason(verify(`dxs1.${p}.${flipped.subarray(0, 31).toString("base64url")}`))).toBe("bad-signature");
    expect(reason(verify(mint({}, generateSecret())))).toBe("bad-signature");
  });

  test("refuses a token for another session (other secret, or same secret and other id)", () => {
    expect(reason(verify(mint({ session: "s2" }, generateSecret())))).toBe("bad-signature");
    expect(reason(verify(mint({ session: "s2" })))).toBe("wrong-session");
  });

  test("expiry with clock skew tolerance", () => {
    const t = mint({ ttlSeconds: 60 });
    expect(reason(verify(t, { now: NOW + 60_000 }))).toBe("ok");
    expect(reason(verify(t, { now: NOW + 89_000 }))).toBe("ok"); // within the 30 s skew
    expect(reason(verify(t, { now: NOW + 91_000 }))).toBe("expired");
    expect(reason(verify(t, { now: NOW + 61_000, skewSeconds: 0 }))).toBe("expired");
  });

  test("refuses a token issued in the future beyond the skew", () => {
    const t = mint({ now: NOW + 120_000 });
    expect(reason(verify(t))).toBe("not-yet-valid");
    expect(reason(verify(mint({ now: NOW + 20_000 })))).toBe("ok");
  });

  test("refuses tokens that live longer than the runner accepts, and inverted ones", () => {
    expect(reason(verify(mint({ ttlSeconds: 48 * 3600 })))).toBe("too-long-lived");
    expect(reason(verify(mint({ ttlSeconds: 3600 }), { maxTtlSeconds: 600 }))).toBe("too-long-lived");
    const iat = NOW / 1000;
    expect(reason(verify(forge({ sid: "s1", sub: "a", iat, exp: iat - 10, jti: "abcdefgh", scp: ["terminal"] })))).toBe("too-long-lived");
  });

  test("refuses a token without the needed scope", () => {
    const t = mint({ scopes: ["preview"] });
    expect(reason(verify(t, { anyOf: ["terminal", "files", "exec"] }))).toBe("wrong-scope");
    expect(reason(verify(t, { anyOf: ["preview"] }))).toBe("ok");
    expect(reason(verify(mint({ scopes: [] }), { anyOf: ["terminal"] }))).toBe("wrong-scope");
    // scopes a later version may add grant nothing here
    const iat = NOW / 1000;
    expect(reason(verify(forge({ sid: "s1", sub: "a", iat, exp: iat + 60, jti: "abcdefgh", scp: ["everything"] })))).toBe("wrong-scope");
  });

  test("refuses a revoked token", () => {
    const t = mint();
    const jti = (verify(t) as { ok: true; claims: { jti: string } }).claims.jti;
    expect(reason(verify(t, { isRevoked: (j) => j === jti }))).toBe("revoked");
    expect(reason(verify(mint(), { isRevoked: (j) => j === jti }))).toBe("ok");
  });

  test("refuses correctly signed claims that do not fit the schema", () => {
    const iat = NOW / 1000;
    const ok = { sid: "s1", sub: "a", iat, exp: iat + 60, jti: "abcdefgh", scp: ["terminal"] };
    expect(reason(verify(forge(ok)))).toBe("ok");
    for (const bad of [{ ...ok, extra: 1 }, { ...ok, exp: "soon" }, { ...ok, sid: "../s1" }, { ...ok, jti: "x" }, { ...ok, scp: "terminal" }, { ...ok, sub: "" }, "just a string", null]) {
      expect(reason(verify(forge(bad)))).toBe("malformed");
    }
    const body = `dxs1.${Buffer.from("{not json").toString("base64url")}`;
    expect(reason(verify(`${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`))).toBe("malformed");
  });

  test("401 versus 403", () => {
    expect(isUnauthenticated("expired")).toBe(true);
    expect(isUnauthenticated("bad-signature")).toBe(true);
    expect(isUnauthenticated("wrong-scope")).toBe(false);
    expect(isUnauthenticated("wrong-session")).toBe(false);
  });

  test("secrets: hex or base64url, at least 32 bytes", () => {
    const s = generateSecret();
    expect(parseSecret(encodeSecret(s))).toEqual(s);
    expect(parseSecret(`${Buffer.from(s).toString("base64url")}\n`)).toEqual(s);
    expect(() => parseSecret("abcd")).toThrow(/at least 32/);
    expect(() => parseSecret("not a secret!")).toThrow(/neither hex nor base64url/);
    expect(() => mintToken(new Uint8Array(8), { session: "s1", user: "a", scopes: [], ttlSeconds: 1 })).toThrow(/too short/);
  });
});
