import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Server } from "bun";
import { CLOSE, SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX, generateSecret, type Scope } from "../../../src/session/protocol/index.ts";
import { startInProcess, until, type TestRunner } from "./harness.ts";
import { rawUpgrade } from "./raw-ws.ts";

/**
 * Every surface of the runner against every bad token. A refusal must happen before anything is
 * done: no socket, no file written, no request reaching the preview app.
 */
let r: TestRunner;
let app: Server<unknown>;
let appHits = 0;
beforeAll(async () => {
  r = await startInProcess();
  app = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, s) {
      appHits++;
      if (s.upgrade(req, { data: {} })) return;
      return new Response("app says hi");
    },
    websocket: { message: (ws, m) => void ws.send(m) },
  } as Parameters<typeof Bun.serve>[0]) as Server<unknown>;
});
afterAll(async () => {
  app.stop(true);
  await r.close();
});

type Variant = { name: string; token: (scopes: Scope[]) => string | undefined; status: number; error: string };

function tamper(token: string): string {
  const [, p, s] = token.split(".") as [string, string, string];
  const claims = JSON.parse(Buffer.from(p, "base64url").toString());
  claims.scp = ["terminal", "files", "exec", "preview", "admin"];
  return `dxs1.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${s}`;
}

const now = () => Date.now();
const variants: Variant[] = [
  { name: "no token", token: () => undefined, status: 401, error: "missing" },
  { name: "garbage", token: () => "dxs1.garbage.garbage", status: 401, error: "malformed" },
  { name: "expired", token: (scopes) => r.token({ scopes, ttlSeconds: 60, now: now() - 3600_000 }), status: 401, error: "expired" },
  { name: "not yet valid", token: (scopes) => r.token({ scopes, now: now() + 3600_000 }), status: 401, error: "not-yet-valid" },
  { name: "another session's secret", token: (scopes) => r.token({ scopes, session: "other", secret: generateSecret() }), status: 401, error: "bad-signature" },
  { name: "another session id", token: (scopes) => r.token({ scopes, session: "other" }), status: 403, error: "wrong-session" },
  // a token for something else, its claims edited to grant everything
  { name: "tampered claims", token: () => tamper(r.token({ scopes: ["preview"] })), status: 401, error: "bad-signature" },
  {
    name: "signed with a prefix of the key",
    token: (scopes) => {
      const good = r.token({ scopes });
      const body = good.slice(0, good.lastIndexOf("."));
      return `${body}.${createHmac("sha256", r.secret.subarray(0, 16)).update(body).digest("base64url")}`;
    },
    status: 401,
    error: "bad-signature",
  },
];

/** A token good in every way but its scope, per surface. */
const wrongScope: Record<string, Scope[]> = { socket: ["preview"], files: ["terminal", "exec", "preview"], preview: ["terminal", "files", "exec"], admin: ["terminal", "files", "exec", "preview"] };
const rightScope: Record<string, Scope[]> = { socket: ["terminal"], files: ["files"], preview: ["preview"], admin: ["admin"] };

/** Call each surface of one kind (socket, files, preview, admin) with `token`. */
async function surfaces(kind: string, token: string | undefined): Promise<Record<string, { status: number; error?: string }>> {
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const res = async (p: Promise<Response>) => {
    const x = await p;
    const body = await x.text();
    return { status: x.status, error: body.startsWith("{") ? (JSON.parse(body).error as string) : undefined };
  };
  const upgradeBy = async (headers: Record<string, string>, path = "/v1/session") => {
    const u = await rawUpgrade(r.port, path, headers);
    u.socket.destroy();
    return { status: u.status, error: u.body.startsWith("{") ? (JSON.parse(u.body).error as string) : undefined };
  };
  if (kind === "socket") {
    return {
      "socket (subprotocol)": await upgradeBy(token ? { "Sec-WebSocket-Protocol": `${SUBPROTOCOL}, ${TOKEN_SUBPROTOCOL_PREFIX}${token}` } : {}),
      "socket (header)": await upgradeBy(auth),
      "socket (query)": await upgradeBy({}, `/v1/session${token ? `?token=${token}` : ""}`),
    };
  }
  if (kind === "files") {
    return {
      "file download": await res(fetch(`${r.url}/v1/files/secret.txt`, { headers: auth })),
      "file upload": await res(fetch(`${r.url}/v1/files/planted.txt`, { method: "PUT", body: "x", headers: auth })),
    };
  }
  if (kind === "preview") {
    return {
      "preview http": await res(fetch(`${r.url}/p/${app.port}/`, { headers: token ? { "x-devx-token": token } : {}, redirect: "manual" })),
      "preview http (query)": await res(fetch(`${r.url}/p/${app.port}/${token ? `?devx_token=${token}` : ""}`, { redirect: "manual" })),
      "preview websocket": await upgradeBy(token ? { "X-Devx-Token": token } : {}, `/p/${app.port}/ws`),
    };
  }
  return {
    "admin status": await res(fetch(`${r.url}/v1/admin/status`, { headers: auth })),
    "admin stop": await res(fetch(`${r.url}/v1/admin/stop`, { method: "POST", headers: auth })),
  };
}

const KINDS = ["socket", "files", "preview", "admin"];


describe("auth matrix: every surface refuses every bad token", () => {
  beforeAll(async () => {
    await Bun.write(join(r.workspace, "secret.txt"), "session data");
  });

  for (const v of variants) {
    test(v.name, async () => {
      const hitsBefore = appHits;
      // each surface gets the variant built with the scopes it would need
      for (const kind of KINDS) {
        for (const [surface, res] of Object.entries(await surfaces(kind, v.token(rightScope[kind]!)))) expect({ surface, ...res } as object).toEqual({ surface, status: v.status, error: v.error });
      }
      expect(appHits).toBe(hitsBefore);
      expect(existsSync(join(r.workspace, "planted.txt"))).toBe(false);
      expect(r.handle!.session.stopping).toBeUndefined();
    });
  }

  test("a token without the surface's scope", async () => {
    const hitsBefore = appHits;
    for (const kind of KINDS) {
      for (const [surface, res] of Object.entries(await surfaces(kind, r.token({ scopes: wrongScope[kind]! })))) expect({ surface, ...res } as object).toEqual({ surface, status: 403, error: "wrong-scope" });
    }
    expect(appHits).toBe(hitsBefore);
    expect(existsSync(join(r.workspace, "planted.txt"))).toBe(false);
  });

  test("a revoked token is refused everywhere, and its open socket is closed", async () => {
    const token = r.token({ scopes: ["terminal", "files", "preview"] });
    const c = await r.connect({ token });
    const jti = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()).jti as string;
    const revoke = await fetch(`${r.url}/v1/admin/revoke`, { method: "POST", headers: { authorization: `Bearer ${r.token({ scopes: ["admin"] })}` }, body: JSON.stringify({ jti: [jti] }) });
    expect(await revoke.json()).toEqual({ revoked: 1, closed: 1 });
    expect((await c.waitClosed()).code).toBe(CLOSE.revoked);
    for (const kind of ["socket", "files", "preview"]) {
      for (const [surface, res] of Object.entries(await surfaces(kind, token))) expect({ surface, ...res } as object).toEqual({ surface, status: 401, error: "revoked" });
    }
  });

  test("the right token opens every surface (so the refusals above are about the token)", async () => {
    const good: Record<string, { status: number }> = {};
    for (const kind of ["socket", "files", "preview"]) {
      for (const [surface, res] of Object.entries(await surfaces(kind, r.token({ scopes: rightScope[kind]! })))) good[surface] = { status: res.status };
    }
    expect(good).toEqual({
      "socket (subprotocol)": { status: 101 },
      "socket (header)": { status: 101 },
      "socket (query)": { status: 101 },
      "file download": { status: 200 },
      "file upload": { status: 201 },
      "preview http": { status: 200 },
      "preview http (query)": { status: 303 },
      "preview websocket": { status: 101 },
    });
    const status = await fetch(`${r.url}/v1/admin/status`, { headers: { authorization: `Bearer ${r.token({ scopes: ["admin"] })}` } });
    expect(status.status).toBe(200);
  });

  test("the socket refuses a client that offers subprotocols but not this version", async () => {
    const u = await rawUpgrade(r.port, "/v1/session", { "Sec-WebSocket-Protocol": `devx.v2, ${TOKEN_SUBPROTOCOL_PREFIX}${r.token()}` });
    expect(u.status).toBe(400);
    expect(JSON.parse(u.body).error).toBe("unsupported-version");
    // the version answered never carries the token
    const ok = await rawUpgrade(r.port, "/v1/session", { "Sec-WebSocket-Protocol": `${SUBPROTOCOL}, ${TOKEN_SUBPROTOCOL_PREFIX}${r.token()}` });
    expect(ok.status).toBe(101);
    expect(ok.head).toMatch(/sec-websocket-protocol: devx\.v1\r?$/im);
    ok.socket.destroy();
  });

  test("a session socket is one per client: many clients, each on its own", async () => {
    const clients = await Promise.all(Array.from({ length: 5 }, () => r.connect()));
    await Promise.all(clients.map((c) => c.ok("ping")));
    await until(() => clients.every((c) => c.messages[0]?.t === "hello"));
    for (const c of clients) c.close();
  });
});
