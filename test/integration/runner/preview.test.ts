import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { startInProcess, until, type TestRunner } from "./harness.ts";

/** Previews: HTTP and WebSocket to an app listening on 127.0.0.1 "inside the sandbox". */
let r: TestRunner;
let app: Server<unknown>;
const seen: { url: string; headers: Record<string, string> }[] = [];

beforeAll(async () => {
  r = await startInProcess();
  app = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req, s) {
      const headers: Record<string, string> = {};
      req.headers.forEach((v, k) => (headers[k] = v));
      seen.push({ url: req.url, headers });
      if (s.upgrade(req, { data: {}, headers: req.headers.get("sec-websocket-protocol") ? { "sec-websocket-protocol": "chat" } : undefined })) return;
      const url = new URL(req.url);
      if (url.pathname === "/gz") return new Response(Bun.gzipSync(new TextEncoder().encode("zipped")), { headers: { "content-encoding": "gzip" } });
      if (url.pathname === "/echo") return new Response(req.body, { status: 207, headers: { "x-app": "yes" } });
      return Response.json({ path: url.pathname, query: url.search, cookie: req.headers.get("cookie") });
    },
    websocket: { message: (ws, m) => void ws.send(`echo:${m}`) },
  } as Parameters<typeof Bun.serve>[0]) as Server<unknown>;
});
afterAll(async () => {
  app.stop(true);
  await r.close();
});

const admin = (path: string, init: RequestInit = {}) => fetch(`${r.url}/v1/admin${path}`, { ...init, headers: { authorization: `Bearer ${r.token({ scopes: ["admin"] })}` } });

describe("previews", () => {
  test("a private port: the token moves from the address bar into a cookie; the app never sees devx credentials", async () => {
    const token = r.token({ scopes: ["preview"] });
    const first = await fetch(`${r.url}/p/${app.port}/some/page?x=1&devx_token=${token}`, { redirect: "manual", headers: { "x-forwarded-prefix": "/s/abc" } });
    expect(first.status).toBe(303);
    expect(first.headers.get("location")).toBe(`/s/abc/p/${app.port}/some/page?x=1`);
    const cookie = first.headers.get("set-cookie")!;
    expect(cookie).toMatch(new RegExp(`^devx_preview=${token.replace(/\./g, "\\.")}; Path=/s/abc/p/${app.port}/; Max-Age=\\d+; HttpOnly; SameSite=Lax$`));
    const page = await fetch(`${r.url}/p/${app.port}/some/page?x=1`, { headers: { cookie: `theme=dark; devx_preview=${token}` } });
    expect(page.status).toBe(200);
    expect(await page.json()).toEqual({ path: "/some/page", query: "?x=1", cookie: "theme=dark" });
    const last = seen.at(-1)!;
    expect(JSON.stringify(last)).not.toContain(token);
    expect(last.headers.host).toBe(`localhost:${app.port}`);
    expect(last.headers["x-forwarded-prefix"]).toBe(`/p/${app.port}`);
    // with the header instead of the cookie
    const viaHeader = await fetch(`${r.url}/p/${app.port}/h`, { headers: { "x-devx-token": token } });
    expect(viaHeader.status).toBe(200);
    expect(JSON.stringify(seen.at(-1))).not.toContain(token);
  });

  test("bodies, statuses and encodings pass through unchanged", async () => {
    const headers = { "x-devx-token": r.token({ scopes: ["preview"] }) };
    const body = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
    const echo = await fetch(`${r.url}/p/${app.port}/echo`, { method: "POST", body, headers });
    expect(echo.status).toBe(207);
    expect(echo.headers.get("x-app")).toBe("yes");
    expect(Buffer.from(await echo.arrayBuffer()).equals(Buffer.from(body))).toBe(true);
    const gz = await fetch(`${r.url}/p/${app.port}/gz`, { headers: { ...headers, "accept-encoding": "gzip" } });
    expect(gz.headers.get("content-encoding")).toBe("gzip");
    expect(await gz.text()).toBe("zipped");
  });

  test("WebSocket previews: authorised by the cookie, subprotocol passed through", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${r.port}/p/${app.port}/live`, { protocols: ["chat"], headers: { cookie: `devx_preview=${r.token({ scopes: ["preview"] })}` } } as unknown as string[]);
    const got: string[] = [];
    ws.onmessage = (e) => got.push(String(e.data));
    await new Promise((res, rej) => {
      ws.onopen = res;
      ws.onerror = rej;
    });
    expect(ws.protocol).toBe("chat");
    ws.send("ping-1");
    await until(() => got.includes("echo:ping-1"));
    ws.close();
    const refused = new WebSocket(`ws://127.0.0.1:${r.port}/p/${app.port}/live`);
    expect(await new Promise((res) => ((refused.onerror = () => res("refused")), (refused.onopen = () => res("opened"))))).toBe("refused");
  });

  test("the control plane makes a port public and private again", async () => {
    expect((await fetch(`${r.url}/p/${app.port}/pub`)).status).toBe(401);
    expect(await (await admin(`/previews/${app.port}`, { method: "PUT", body: JSON.stringify({ public: true }) })).json()).toEqual({ port: app.port, public: true });
    const open = await fetch(`${r.url}/p/${app.port}/pub`);
    expect(open.status).toBe(200);
    expect(((await (await admin("/status")).json()) as { publicPorts: number[] }).publicPorts).toEqual([app.port!]);
    await admin(`/previews/${app.port}`, { method: "PUT", body: JSON.stringify({ public: false }) });
    expect((await fetch(`${r.url}/p/${app.port}/pub`)).status).toBe(401);
    expect((await admin(`/previews/${app.port}`, { method: "PUT", body: JSON.stringify({ public: "yes" }) })).status).toBe(400);
  });

  test("the runner's own port is not a preview; a closed port answers 502; traffic counts as activity", async () => {
    const headers = { "x-devx-token": r.token({ scopes: ["preview"] }) };
    expect((await fetch(`${r.url}/p/${r.port}/v1/admin/status`, { headers })).status).toBe(403);
    const closed = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
    const port = closed.port;
    closed.stop(true);
    expect((await fetch(`${r.url}/p/${port}/`, { headers })).status).toBe(502);
    expect((await fetch(`${r.url}/p/${app.port}`, { headers, redirect: "manual" })).status).toBe(308);
    await fetch(`${r.url}/p/${app.port}/`, { headers });
    expect(r.handle!.session.activity.lastKind).toBe("preview");
  });
});
