import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBinary } from "../../support/binary.ts";
import { podmanAvailable } from "../../support/images.ts";
import { sessionImage, startServe as startServeBinary } from "../../support/session-serve.ts";
import { required } from "../../support/require.ts";
import { redisAvailable, startRedis, type RedisServer } from "../../support/redis-server.ts";
import { FRAME } from "../../../src/session/protocol/index.ts";
import { Client } from "../runner/harness.ts";

/**
 * The control plane end to end on the real parts: the compiled binary runs `devx session serve`
 * (SQLite in a temporary state directory, 127.0.0.1 on a free port) and makes podman containers
 * from the session image; everything below goes through its HTTP API and its runner proxy
 * (`/s/<id>/…`), as a client elsewhere would.
 */
const withPodman = podmanAvailable();
const run = `${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const A = `cp-a-${run}`;
// the auth matrix's own sessions (A is the lifecycle's)
const C = `cp-c-${run}`;
const D = `cp-d-${run}`;
const home = mkdtempSync(join(tmpdir(), "devx-cp-"));
let bin = "";
let base = "";
let image = "";
let serve: import("bun").Subprocess<"ignore", "pipe", "pipe"> | undefined;
const serveLog: string[] = [];
const tokens: Record<string, string> = {};

const env = () => {
  const e: Record<string, string> = {};
  for (const [k, val] of Object.entries(process.env)) if (val !== undefined && !k.startsWith("DEVX_SESSION_")) e[k] = val;
  return { ...e, DEVX_HOME: home, NO_COLOR: "1" };
};

async function devx(args: string[], over: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([bin, ...args], { env: { ...env(), ...over }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

async function newToken(owner: string, extra: string[] = []): Promise<{ token: string; id: string }> {
  const r = await devx(["session", "token", "create", "--owner", owner, "--json", ...extra]);
  if (r.code !== 0) throw new Error(`token create: ${r.err}`);
  return JSON.parse(r.out) as { token: string; id: string };
}

const api = (path: string, o: { method?: string; token?: string; body?: unknown } = {}) =>
  fetch(`${base}/api/v1${path}`, {
    method: o.method ?? "GET",
    headers: { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...(o.body !== undefined ? { "content-type": "application/json" } : {}) },
    body: o.body !== undefined ? JSON.stringify(o.body) : undefined,
  });

async function json<T = Record<string, unknown>>(res: Response | Promise<Response>, status: number): Promise<T> {
  const r = await res;
  const text = await r.text();
  if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

const runnerToken = async (id: string, token = tokens.alice!) => (await json<{ token: string }>(api(`/sessions/${id}/tokens`, { method: "POST", token, body: {} }), 201)).token;

const podman = (args: string[]) => Bun.spawnSync(["podman", ...args], { stdout: "pipe", stderr: "pipe" });
const labelled = (id: string) => ({
  containers: podman(["ps", "-a", "--filter", `label=devx.session=${id}`, "--format", "{{.Names}}"]).stdout.toString().trim(),
  volumes: podman(["volume", "ls", "--filter", `label=devx.session=${id}`, "--format", "{{.Name}}"]).stdout.toString().trim(),
});

/** `devx session serve` on a free port; resolves with its ready line once it listens. */
const startServe = (args: string[], log: string[] = serveLog, over: Record<string, string> = {}) => startServeBinary(bin, args, { ...env(), ...over }, log);

beforeAll(async () => {
  if (!withPodman) {
    if (required("podman")) throw new Error("podman is required (DEVX_TEST_REQUIRE) but not available");
    return;
  }
  bin = ensureBinary();
  image = await sessionImage(bin);
  for (const who of ["alice", "bob"]) tokens[who] = (await newToken(who)).token;
  const reader = await newToken("carol", ["--scope", "sessions:read"]);
  tokens.reader = reader.token;
  const revoked = await newToken("alice");
  tokens.revoked = revoked.token;
  expect((await devx(["session", "token", "revoke", revoked.id])).code).toBe(0);

  // the auth matrix makes many refused requests from one address: the rate limit has its own test
  const started = await startServe(["--image", image, "--auth-limit", "1000"]);
  serve = started.proc;
  expect(started.store).toBe("sqlite");
  base = started.url;
}, 600_000);

afterAll(async () => {
  if (serve && serve.exitCode === null) {
    serve.kill("SIGTERM");
    await serve.exited;
  }
  if (withPodman) for (const id of [A, C, D]) for (const args of [["rm", "-f", "-t", "0", `devx-session-${id}`], ["volume", "rm", "-f", `devx-session-${id}`]]) podman(args);
  rmSync(home, { recursive: true, force: true });
});

describe.skipIf(!withPodman)("devx session serve on podman", () => {
  test("create → exec → file API → stop → start (workspace kept) → delete (nothing left)", async () => {
    const created = await json<{ session: Record<string, unknown> }>(api("/sessions", { method: "POST", token: tokens.alice, body: { name: A, cpus: 1, memoryMiB: 512 } }), 201);
    expect(created.session).toMatchObject({ id: A, owner: "alice", template: "default", state: "running", running: true, limits: { cpus: 1, memoryMiB: 512, pids: 1024 } });
    // the API never shows the session secret nor where its runner listens
    expect(created.session.secret).toBeUndefined();
    expect(created.session.runner).toBeUndefined();
    expect(labelled(A).containers).toBe(`devx-session-${A}`);
    const limits = podman(["container", "inspect", "--format", "{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}", `devx-session-${A}`]).stdout.toString().trim();
    expect(limits).toBe(`1000000000 ${512 * 1024 * 1024} 1024`);
    expect((await json<{ sessions: { id: string }[] }>(api("/sessions", { token: tokens.alice }), 200)).sessions.map((s) => s.id)).toContain(A);

    // a command through the control plane's proxy to the runner in the container
    const c = await Client.open(`${base.replace("http", "ws")}/s/${A}/v1/session`, await runnerToken(A));
    const { proc } = (await c.ok("exec.run", { argv: ["sh", "-c", "echo hello; exit 7"] })) as unknown as { proc: number };
    expect(await c.waitMessage((m) => m.t === "exec.exit" && m.proc === proc, 10_000)).toMatchObject({ code: 7, signal: null });
    expect(Buffer.from(c.bytes(FRAME.execStdout, proc)).toString()).toBe("hello\n");
    const who = (await c.ok("exec.run", { argv: ["id", "-u"] })) as unknown as { proc: number };
    await c.waitMessage((m) => m.t === "exec.exit" && m.proc === who.proc, 10_000);
    expect(Buffer.from(c.bytes(FRAME.execStdout, who.proc)).toString()).toBe("1000\n");
    expect(c.invalid).toEqual([]);
    c.close();

    // the file API through the proxy: write, read back
    const files = await runnerToken(A);
    const content = `notes ${run} ✓\n`;
    await json(fetch(`${base}/s/${A}/v1/files/notes.txt`, { method: "PUT", headers: { authorization: `Bearer ${files}` }, body: content }), 201);
    const got = await fetch(`${base}/s/${A}/v1/files/notes.txt`, { headers: { authorization: `Bearer ${files}` } });
    expect(got.status).toBe(200);
    expect(await got.text()).toBe(content);

    // a private preview through /s/<id>/p/<port>/: refused without a token; the token moves from the
    // address bar into a cookie scoped to the session's path, which then opens it; the control plane's
    // own sign-in cookie is not passed into the sandbox
    const app = await Client.open(`${base.replace("http", "ws")}/s/${A}/v1/session`, await runnerToken(A));
    await app.ok("exec.run", { argv: ["devx", "example-service", "--name", "web", "--port", "3000"], background: true });
    const page = `${base}/s/${A}/p/3000/`;
    expect((await fetch(page)).status).toBe(401);
    const preview = await runnerToken(A);
    // the app is up once something answers on its port (502 until then)
    for (let i = 0; i < 400 && (await fetch(page, { headers: { "x-devx-token": preview } })).status === 502; i++) await Bun.sleep(50);
    const first = await fetch(`${page}?devx_token=${preview}`, { redirect: "manual" });
    expect(first!.status).toBe(303);
    expect(first!.headers.get("location")).toBe(`/s/${A}/p/3000/`);
    expect(first!.headers.get("set-cookie")).toStartWith(`devx_preview=${preview}; Path=/s/${A}/p/3000/;`);
    const shown = await fetch(page, { headers: { cookie: `devx_session=signed-in-user; devx_preview=${preview}` } });
    expect(shown.status).toBe(200);
    expect(await shown.json()).toMatchObject({ service: "web" });
    // public on request: then no token is needed for that port (and only that port)
    expect(await json(api(`/sessions/${A}/previews/3000`, { method: "PUT", token: tokens.alice, body: { public: true } }), 200)).toEqual({ port: 3000, public: true });
    expect((await fetch(page)).status).toBe(200);
    expect((await fetch(`${base}/s/${A}/p/3001/`)).status).toBe(401);
    await json(api(`/sessions/${A}/previews/3000`, { method: "PUT", token: tokens.alice, body: { public: false } }), 200);
    expect((await fetch(page)).status).toBe(401);
    app.close();

    // the runner's log, through the API
    const logs = await api(`/sessions/${A}/logs?tail=50`, { token: tokens.alice });
    expect(logs.status).toBe(200);
    expect(await logs.text()).toContain(`runner ${A}:`);
    expect((await api(`/sessions/${A}/logs?tail=-1`, { token: tokens.alice })).status).toBe(400);

    // stop: the sandbox goes, its workspace volume stays
    expect((await json<{ session: { state: string } }>(api(`/sessions/${A}/stop`, { method: "POST", token: tokens.alice }), 200)).session.state).toBe("stopped");
    expect(labelled(A)).toEqual({ containers: "", volumes: `devx-session-${A}` });
    // a stopped session has no runner to reach, and tokens of its earlier run are worthless
    expect((await fetch(`${base}/s/${A}/v1/files/notes.txt`, { headers: { authorization: `Bearer ${files}` } })).status).toBe(409);
    expect((await api(`/sessions/${A}/tokens`, { method: "POST", token: tokens.alice, body: {} })).status).toBe(409);

    // start again: the file is still there; the old runner token is not accepted any more (fresh secret)
    expect((await json<{ session: { state: string } }>(api(`/sessions/${A}/start`, { method: "POST", token: tokens.alice }), 200)).session.state).toBe("running");
    expect((await fetch(`${base}/s/${A}/v1/files/notes.txt`, { headers: { authorization: `Bearer ${files}` } })).status).toBe(401);
    const again = await fetch(`${base}/s/${A}/v1/files/notes.txt`, { headers: { authorization: `Bearer ${await runnerToken(A)}` } });
    expect(await again.text()).toBe(content);

    // delete: container, volume and record gone; nothing labelled left
    expect((await api(`/sessions/${A}`, { method: "DELETE", token: tokens.alice })).status).toBe(204);
    expect(labelled(A)).toEqual({ containers: "", volumes: "" });
    expect((await api(`/sessions/${A}`, { token: tokens.alice })).status).toBe(404);
  }, 180_000);

  test("auth matrix: API and runner socket refuse missing, bad, revoked, expired, read-only and other-session credentials", async () => {
    const expiring = (await newToken("alice", ["--ttl", "1s"])).token;
    await json(api("/sessions", { method: "POST", token: tokens.alice, body: { name: C } }), 201);
    await json(api("/sessions", { method: "POST", token: tokens.bob, body: { name: D } }), 201);

    // the API
    expect((await api("/sessions")).status).toBe(401);
    expect((await api("/sessions", { token: "dxt_aaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" })).status).toBe(401);
    expect((await api("/sessions", { token: tokens.alice!.slice(0, -1) + (tokens.alice!.endsWith("C") ? "D" : "C") })).status).toBe(401);
    expect((await api("/sessions", { token: tokens.revoked })).status).toBe(401);
    await Bun.sleep(1100); // the expiring token's second
    expect((await api("/sessions", { token: expiring })).status).toBe(401);
    const refused = await json<{ error: { kind: string } }>(api("/sessions", { token: tokens.revoked }), 401);
    expect(refused.error.kind).toBe("unauthenticated");
    // a runner token is no API token
    expect((await api("/sessions", { token: await runnerToken(C) })).status).toBe(401);
    // a read-only token reads, and may not create
    expect((await api("/sessions", { token: tokens.reader })).status).toBe(200);
    expect((await api("/sessions", { method: "POST", token: tokens.reader, body: { name: `cp-x-${run}` } })).status).toBe(403);
    // another user's session does not exist for bob, and bob cannot mint tokens for it
    expect((await api(`/sessions/${C}`, { token: tokens.bob })).status).toBe(404);
    expect((await api(`/sessions/${C}/tokens`, { method: "POST", token: tokens.bob, body: {} })).status).toBe(404);
    expect((await api(`/sessions/${C}/stop`, { method: "POST", token: tokens.bob })).status).toBe(404);
    expect((await api(`/sessions/${C}`, { method: "DELETE", token: tokens.bob })).status).toBe(404);
    expect((await json<{ sessions: { id: string }[] }>(api("/sessions", { token: tokens.bob }), 200)).sessions.map((s) => s.id)).toEqual([D]);

    // the runner socket through /s/<id>/…: no token, an API token, another session's token
    const socket = (id: string) => `${base}/s/${id}/v1/session`;
    const upgrade = { connection: "Upgrade", upgrade: "websocket", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" };
    expect((await fetch(socket(C), { headers: upgrade })).status).toBe(401);
    expect((await fetch(socket(C), { headers: { ...upgrade, authorization: `Bearer ${tokens.alice}` } })).status).toBe(401);
    const bobs = await runnerToken(D, tokens.bob);
    expect([401, 403]).toContain((await fetch(socket(C), { headers: { ...upgrade, authorization: `Bearer ${bobs}` } })).status);
    await expect(Client.open(socket(C).replace("http", "ws"), bobs)).rejects.toThrow("WebSocket refused");
    await expect(Client.open(socket(C).replace("http", "ws"), "dxs1.x.y")).rejects.toThrow("WebSocket refused");
    // the file API too
    expect([401, 403]).toContain((await fetch(`${base}/s/${C}/v1/files/`, { headers: { authorization: `Bearer ${bobs}` } })).status);
    expect((await fetch(`${base}/s/${C}/v1/files/`)).status).toBe(401);
    // the runner's admin calls are not routed from outside, even with a valid token
    const good = await runnerToken(C);
    expect((await fetch(`${base}/s/${C}/v1/admin/status`, { headers: { authorization: `Bearer ${good}` } })).status).toBe(404);
    expect((await fetch(`${base}/s/${C}/v1/files/%2e%2e/admin/status`, { headers: { authorization: `Bearer ${good}` } })).status).not.toBe(200);
    expect((await api(`/sessions/${C}/previews/70000`, { method: "PUT", token: tokens.alice, body: { public: true } })).status).toBe(400);
    // and the right token opens it
    const ok = await Client.open(socket(C).replace("http", "ws"), await runnerToken(C));
    expect((await ok.ok("ping")).t).toBe("ok");
    ok.close();

    for (const [id, t] of [[C, tokens.alice], [D, tokens.bob]] as const) expect((await api(`/sessions/${id}`, { method: "DELETE", token: t })).status).toBe(204);
    expect(labelled(C)).toEqual({ containers: "", volumes: "" });
    expect(labelled(D)).toEqual({ containers: "", volumes: "" });
  }, 180_000);
});

describe.skipIf(!withPodman)("devx session serve on podman: no egress", () => {
  const G = `cp-g-${run}`;
  afterAll(() => {
    podman(["rm", "-f", "-t", "0", `devx-session-${G}`]);
    podman(["volume", "rm", "-f", `devx-session-${G}`]);
  });

  test("egress: false — an internal network without a default route, the runner still reached through the control plane", async () => {
    await json(api("/sessions", { method: "POST", token: tokens.alice, body: { name: G, egress: false } }), 201);
    expect(podman(["container", "inspect", "--format", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}", `devx-session-${G}`]).stdout.toString().trim()).toBe("devx-sessions-internal");
    expect(podman(["network", "inspect", "--format", "{{.Internal}}", "devx-sessions-internal"]).stdout.toString().trim()).toBe("true");
    const c = await Client.open(`${base.replace("http", "ws")}/s/${G}/v1/session`, await runnerToken(G));
    const { proc } = (await c.ok("exec.run", { argv: ["cat", "/proc/net/route"] })) as unknown as { proc: number };
    expect(await c.waitMessage((m) => m.t === "exec.exit" && m.proc === proc, 10_000)).toMatchObject({ code: 0 });
    const routes = Buffer.from(c.bytes(FRAME.execStdout, proc)).toString().split("\n").slice(1).filter(Boolean);
    expect(routes.length).toBeGreaterThan(0);
    // no line with destination 0.0.0.0: nothing routes out of the sandbox
    expect(routes.filter((l) => l.split(/\s+/)[1] === "00000000")).toEqual([]);
    c.close();
    expect((await api(`/sessions/${G}`, { method: "DELETE", token: tokens.alice })).status).toBe(204);
    expect(labelled(G)).toEqual({ containers: "", volumes: "" });
  }, 120_000);
});

describe.skipIf(!withPodman)("devx session CLI against the control plane", () => {
  const E = `cp-e-${run}`;
  afterAll(() => {
    podman(["rm", "-f", "-t", "0", `devx-session-${E}`]);
    podman(["volume", "rm", "-f", `devx-session-${E}`]);
  });
  const cli = (args: string[], token: string | null = tokens.alice!, extra: Record<string, string> = {}, input?: string) => {
    const e: Record<string, string> = { ...env(), DEVX_SESSION_SERVER: base, ...extra };
    if (token !== null) e.DEVX_SESSION_TOKEN = token;
    const p = Bun.spawn([bin, "session", ...args], { env: e, stdin: input !== undefined ? new Blob([input]) : "ignore", stdout: "pipe", stderr: "pipe" });
    return Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]).then(([out, err, code]) => ({ out, err, code }));
  };

  test("create, ls, exec (exit code and output), stop, start, rm — with --json, -y and --dry-run", async () => {
    // dry runs print the request and change nothing
    const plan = await cli(["create", "--name", E, "--dry-run", "--json"]);
    expect(plan.code).toBe(0);
    expect(JSON.parse(plan.out)).toEqual({ plan: { create: { name: E }, server: base } });
    expect((await api(`/sessions/${E}`, { token: tokens.alice })).status).toBe(404);

    const created = await cli(["create", "--name", E, "--cpus", "1", "--json"]);
    expect(created.code).toBe(0);
    expect(JSON.parse(created.out).session).toMatchObject({ id: E, state: "running", limits: { cpus: 1 } });
    const ls = await cli(["ls", "--json"]);
    expect(JSON.parse(ls.out).sessions.map((s: { id: string }) => s.id)).toContain(E);
    expect((await cli(["ls"])).out).toMatch(new RegExp(`^ID +STATE +OWNER[^\\n]*\\n(.*\\n)*${E} +running +alice +default `));

    // exec: argv as given, the command's exit code is devx's, stdout and stderr apart
    const ex = await cli(["exec", E, "--", "sh", "-c", "echo out; echo err >&2; exit 3", "; rm -rf /"]);
    expect(ex).toEqual({ out: "out\n", err: "err\n", code: 3 });
    const exj = await cli(["exec", E, "--json", "--", "sh", "-c", "printf '%s' \"$0\" > made.txt; cat made.txt", "$(id)"]);
    expect(JSON.parse(exj.out)).toEqual({ session: E, argv: ["sh", "-c", "printf '%s' \"$0\" > made.txt; cat made.txt", "$(id)"], exitCode: 0, signal: null, stdout: "$(id)", stderr: "" });
    expect((await cli(["exec", E, "--", "no-such-program-here"])).code).toBe(4);
    // -i: stdin goes to the command, and its end closes the command's stdin
    const big = "line\n".repeat(100_000);
    expect(await cli(["exec", E, "-i", "--", "sh", "-c", "cat > in.txt; wc -c < in.txt"], tokens.alice!, {}, big)).toEqual({ out: `${big.length}\n`, err: "", code: 0 });

    expect(await cli(["stop", E])).toMatchObject({ code: 0, out: `session ${E} is stopped\n` });
    expect((await cli(["exec", E, "--", "true"])).code).toBe(5);
    expect(JSON.parse((await cli(["start", E, "--json"])).out).session.state).toBe("running");
    expect((await cli(["exec", E, "--", "cat", "made.txt"])).out).toBe("$(id)");

    // rm asks; without a terminal it needs -y and removes nothing
    const asked = await cli(["rm", E]);
    expect(asked.code).toBe(2);
    expect(asked.err).toContain("-y");
    expect((await cli(["rm", E, "--dry-run"])).out).toBe(`would delete session ${E} (sandbox and workspace) on ${base}\n`);
    expect(labelled(E).containers).toBe(`devx-session-${E}`);
    expect(await cli(["rm", E, "-y", "--json"])).toMatchObject({ code: 0, out: `${JSON.stringify({ removed: E })}\n` });
    expect(labelled(E)).toEqual({ containers: "", volumes: "" });
  }, 180_000);

  test("credentials: none, a bad one, another user's session; the token is never in argv", async () => {
    const none = await cli(["ls"], null);
    expect(none.code).toBe(2);
    expect(none.err).toContain("DEVX_SESSION_TOKEN");
    const bad = await cli(["ls"], tokens.revoked!);
    expect(bad.code).toBe(6);
    expect(bad.err).toContain("DEVX_SESSION_TOKEN");
    expect(bad.err).not.toContain(tokens.revoked!);
    expect((await cli(["stop", "cp-nobody-here"])).code).toBe(4);
    // there is no flag that takes a token
    expect((await cli(["ls", "--token", tokens.alice!])).code).toBe(2);
    const unreachable = await cli(["ls"], tokens.alice!, { DEVX_SESSION_SERVER: "http://127.0.0.1:1" });
    expect(unreachable.code).toBe(8);
    expect((await cli(["ls", "--server", "http://user:pw@127.0.0.1:1"])).code).toBe(2);
  }, 60_000);

  test("token create|ls|revoke: printed once, stored as a hash, revocation takes effect at once", async () => {
    const dry = await devx(["session", "token", "create", "--owner", "dave", "--dry-run"]);
    expect(dry.out).toStartWith("would create an API token for dave (sessions:read, sessions:write) in sqlite ");
    expect((await devx(["session", "token", "ls", "--json"])).out).not.toContain("dave");
    const made = await devx(["session", "token", "create", "--owner", "dave", "--note", "ci job", "--ttl", "1h"]);
    expect(made.code).toBe(0);
    const token = made.out.trim();
    expect(token).toMatch(/^dxt_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    const id = token.slice(4, 16);
    // only the hash is kept: the token appears nowhere in the store's files
    for (const f of readdirSync(join(home, "state", "sessions")).filter((n) => n.startsWith("control-plane.db"))) expect(readFileSync(join(home, "state", "sessions", f)).includes(token)).toBe(false);
    const ls = JSON.parse((await devx(["session", "token", "ls", "--json"])).out) as { tokens: Array<Record<string, unknown>> };
    expect(ls.tokens.find((t) => t.id === id)).toMatchObject({ owner: "dave", scopes: ["sessions:read", "sessions:write"], status: "active", note: "ci job" });
    expect(JSON.stringify(ls)).not.toContain(token.slice(17));
    expect(ls.tokens.filter((t) => t.status === "revoked").length).toBeGreaterThanOrEqual(1);
    expect((await cli(["ls"], token)).code).toBe(0);
    expect((await devx(["session", "token", "revoke", id, "--dry-run"])).out).toBe(`would revoke token ${id} of dave\n`);
    expect((await cli(["ls"], token)).code).toBe(0);
    expect((await devx(["session", "token", "revoke", token])).out).toBe(`revoked token ${id} of dave\n`);
    expect((await cli(["ls"], token)).code).toBe(6);
    expect((await devx(["session", "token", "revoke", "nonexistent0"])).code).toBe(4);
    expect((await devx(["session", "token", "create", "--scope", "sessions:everything"])).code).toBe(6);
  }, 60_000);
});

describe.skipIf(!withPodman)("devx session attach in a PTY", () => {
  const F = `cp-f-${run}`;
  afterAll(() => {
    podman(["rm", "-f", "-t", "0", `devx-session-${F}`]);
    podman(["volume", "rm", "-f", `devx-session-${F}`]);
  });

  /** `devx session attach` with a PTY as its terminal: what it draws, and keys typed into it. */
  function attach(args: string[]) {
    let screen = "";
    const dec = new TextDecoder();
    const p = Bun.spawn([bin, "session", "attach", F, ...args], {
      env: { ...env(), DEVX_SESSION_SERVER: base, DEVX_SESSION_TOKEN: tokens.alice! },
      terminal: { cols: 100, rows: 30, data: (_t, d) => void (screen += dec.decode(d, { stream: true })) },
    });
    const until = async (needle: string | RegExp, what: string) => {
      const deadline = Date.now() + 20_000;
      while (!(typeof needle === "string" ? screen.includes(needle) : needle.test(screen))) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; screen:\n${screen}`);
        await Bun.sleep(20);
      }
    };
    return { p, type: (s: string) => p.terminal!.write(s), screen: () => screen, until };
  }

  test("raw mode, resize, Ctrl-] detaches with the shell still running, attach again replays the scrollback, exit ends it", async () => {
    await json(api("/sessions", { method: "POST", token: tokens.alice, body: { name: F } }), 201);
    const a = attach([]);
    a.type("echo MARK-$((6*7)); stty size\r");
    await a.until("MARK-42", "the shell to answer");
    await a.until("30 100", "the PTY's size to reach the remote terminal");
    a.p.terminal!.resize(120, 40);
    await Bun.sleep(200);
    a.type("export KEPT=yes; stty size\r");
    await a.until("40 120", "the resize to reach the remote terminal");
    // raw mode: Ctrl-C goes to the remote shell (it interrupts sleep there), not to devx
    a.type("sleep 30\r");
    await Bun.sleep(300);
    a.type("\x03");
    a.type("echo AFTER-$((1+1))\r");
    await a.until("AFTER-2", "the remote shell after Ctrl-C");
    a.type("\x1d");
    expect(await a.p.exited).toBe(0);
    const term = /devx session attach \S+ --term (\d+)/.exec(a.screen())?.[1];
    expect(term).toBeDefined();
    a.p.terminal!.close();

    // the newest live terminal again: the scrollback first, then the same shell (its variable kept)
    const b = attach([]);
    await b.until("MARK-42", "the scrollback replay");
    b.type("echo KEPT=$KEPT\r");
    await b.until("KEPT=yes", "the same shell");
    b.type("exit 4\r");
    expect(await b.p.exited).toBe(4);
    expect(b.screen()).toContain(`terminal ${term} of ${F} exited (4)`);
    b.p.terminal!.close();

    // --term of a terminal that is gone: not found; --dry-run changes nothing
    const gone = attach(["--term", "999"]);
    expect(await gone.p.exited).toBe(4);
    gone.p.terminal!.close();
    const dry = await devx(["session", "attach", F, "--dry-run", "--server", base]);
    expect(dry.out).toBe(`would attach to the newest terminal of session ${F}\n`);
    expect((await api(`/sessions/${F}`, { method: "DELETE", token: tokens.alice })).status).toBe(204);
  }, 180_000);
});

describe.skipIf(!withPodman || !redisAvailable())("two control planes sharing one Redis (--store redis://)", () => {
  const H = `cp-h-${run}`;
  let redis: RedisServer;
  const procs: Array<import("bun").Subprocess> = [];
  afterAll(async () => {
    for (const p of procs) if (p.exitCode === null) p.kill("SIGTERM");
    await Promise.all(procs.map((p) => p.exited));
    podman(["rm", "-f", "-t", "0", `devx-session-${H}`]);
    podman(["volume", "rm", "-f", `devx-session-${H}`]);
    await redis?.stop();
  });

  test("a token made once works on both; a session made on one is driven from the other; revocation reaches both", async () => {
    redis = await startRedis();
    const made = await devx(["session", "token", "create", "--owner", "erin", "--store", redis.url, "--json"]);
    expect(made.code).toBe(0);
    const { token, id } = JSON.parse(made.out) as { token: string; id: string };
    const one = await startServe(["--store", redis.url, "--image", image], []);
    const two = await startServe(["--store", redis.url], []);
    procs.push(one.proc, two.proc);
    expect([one.store, two.store]).toEqual(["redis", "redis"]);
    const on = (url: string, path: string, o: { method?: string; body?: unknown } = {}) =>
      fetch(`${url}/api/v1${path}`, { method: o.method ?? "GET", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: o.body !== undefined ? JSON.stringify(o.body) : undefined });

    expect((await json<{ session: { state: string } }>(on(one.url, "/sessions", { method: "POST", body: { name: H } }), 201)).session.state).toBe("running");
    expect((await json<{ sessions: { id: string; state: string }[] }>(on(two.url, "/sessions"), 200)).sessions).toMatchObject([{ id: H, state: "running" }]);
    // the second control plane routes to the runner the first one started
    const rt = (await json<{ token: string }>(on(two.url, `/sessions/${H}/tokens`, { method: "POST", body: {} }), 201)).token;
    const c = await Client.open(`${two.url.replace("http", "ws")}/s/${H}/v1/session`, rt);
    const { proc } = (await c.ok("exec.run", { argv: ["echo", "via-two"] })) as unknown as { proc: number };
    await c.waitMessage((m) => m.t === "exec.exit" && m.proc === proc, 10_000);
    expect(Buffer.from(c.bytes(FRAME.execStdout, proc)).toString()).toBe("via-two\n");
    c.close();
    expect((await json<{ session: { state: string } }>(on(two.url, `/sessions/${H}/stop`, { method: "POST" }), 200)).session.state).toBe("stopped");
    expect((await json<{ session: { state: string } }>(on(one.url, `/sessions/${H}`), 200)).session.state).toBe("stopped");

    expect((await devx(["session", "token", "revoke", id, "--store", redis.url])).code).toBe(0);
    expect((await on(one.url, "/sessions")).status).toBe(401);
    expect((await on(two.url, "/sessions")).status).toBe(401);
    // cleaned up with an admin token
    const admin = JSON.parse((await devx(["session", "token", "create", "--owner", "ops", "--scope", "sessions:admin", "--scope", "sessions:write", "--store", redis.url, "--json"])).out).token as string;
    expect((await fetch(`${two.url}/api/v1/sessions/${H}`, { method: "DELETE", headers: { authorization: `Bearer ${admin}` } })).status).toBe(204);
    expect(labelled(H)).toEqual({ containers: "", volumes: "" });
  }, 180_000);
});

describe.skipIf(!withPodman)("reconciling: sandboxes found by label", () => {
  const own = `cp-o-${run}`;
  const foreign = `cp-q-${run}`;
  const home2 = mkdtempSync(join(tmpdir(), "devx-cp2-"));
  let proc: import("bun").Subprocess | undefined;
  afterAll(async () => {
    if (proc && proc.exitCode === null) proc.kill("SIGTERM");
    await proc?.exited;
    for (const id of [own, foreign]) podman(["rm", "-f", "-t", "0", `devx-session-${id}`]);
    podman(["volume", "rm", "-f", `devx-session-${foreign}`]);
    rmSync(home2, { recursive: true, force: true });
  });

  test("a sandbox of this control plane without a record is adopted (stopped, recorded); another control plane's is left alone", async () => {
    const admin = JSON.parse((await devx(["session", "token", "create", "--owner", "ops", "--scope", "sessions:admin", "--json"], { DEVX_HOME: home2 })).out).token as string;
    const cp = await startServe(["--image", image, "--watch-interval", "300ms", "--auth-limit", "3"], [], { DEVX_HOME: home2 });
    proc = cp.proc;
    expect(cp.plane).toMatch(/^[0-9a-f]{12}$/);
    const orphan = (id: string, plane: string) =>
      podman(["run", "-d", "--init", "--name", `devx-session-${id}`, ...["devx.managed=true", "devx.kind=session", `devx.session=${id}`, `devx.plane=${plane}`].flatMap((l) => ["--label", l]), "--entrypoint", "sleep", image, "600"]);
    expect(orphan(foreign, "0123456789ab").exitCode).toBe(0);
    // another plane's workspace volume too (podman 4.3 ORs two label filters of `volume ls`: it was listed as ours)
    expect(podman(["volume", "create", ...["devx.managed=true", "devx.kind=session", `devx.session=${foreign}`, "devx.plane=0123456789ab"].flatMap((l) => ["--label", l]), `devx-session-${foreign}`]).exitCode).toBe(0);
    expect(orphan(own, cp.plane).exitCode).toBe(0);
    let rec: { state?: string; owner?: string } = {};
    for (let i = 0; i < 600 && rec.state !== "stopped"; i++) {
      if (i) await Bun.sleep(50);
      const r = await fetch(`${cp.url}/api/v1/sessions/${own}`, { headers: { authorization: `Bearer ${admin}` } });
      if (r.status === 200) rec = ((await r.json()) as { session: typeof rec }).session;
    }
    expect(rec).toMatchObject({ state: "stopped", owner: "(adopted)" });
    expect(podman(["container", "exists", `devx-session-${own}`]).exitCode).toBe(1);
    // the same pass listed every sandbox: the other plane's was seen, and is untouched and unrecorded
    expect(podman(["container", "inspect", "--format", "{{.State.Status}}", `devx-session-${foreign}`]).stdout.toString().trim()).toBe("running");
    expect(podman(["volume", "exists", `devx-session-${foreign}`]).exitCode).toBe(0);
    expect((await fetch(`${cp.url}/api/v1/sessions/${foreign}`, { headers: { authorization: `Bearer ${admin}` } })).status).toBe(404);

    // failed authentications from one address: 401 up to the limit (3 here), then 429 with Retry-After (a valid token still works)
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await fetch(`${cp.url}/api/v1/sessions`, { headers: { authorization: "Bearer dxt_aaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" } })).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
    const after = await fetch(`${cp.url}/api/v1/sessions`);
    expect(after.status).toBe(429);
    expect(after.headers.get("retry-after")).toBe("60");
    expect((await fetch(`${cp.url}/api/v1/sessions`, { headers: { authorization: `Bearer ${admin}` } })).status).toBe(200);
  }, 120_000);
});
