import { describe, expect, test } from "bun:test";
import { expose, listTunnels, unexpose } from "../../../src/core/tunnel/expose.ts";
import { gc } from "../../../src/core/tunnel/gc.ts";
import { cloudflareSetup, ensureVmTunnel, tunnelNameFor } from "../../../src/core/tunnel/setup.ts";
import { peekOwnerId } from "../../../src/core/tunnel/local-state.ts";
import { vmInit, vmRemove } from "../../../src/core/vm/lifecycle.ts";
import { ConflictError, NotFoundError, PermissionError, UsageError } from "../../../src/errors.ts";
import type { DevxConfig } from "../../../src/config/schema.ts";
import { runCli } from "../../../src/cli/run.ts";
import { memoryIO } from "../../../src/cli/io.ts";
import { startFakeCloudflare, type FakeCloudflare } from "../../support/fake-cloudflare.ts";
import { ExecStub } from "../../support/exec-stub.ts";
import { BINS, tempHome, testDeps } from "../../unit/vm/helpers.ts";
import { PODMAN } from "../../unit/vm/fixtures.ts";

function setup(cf: FakeCloudflare, extra: Record<string, string> = {}) {
  const config: DevxConfig = { vm: { name: "devx", provider: "podman", cloudflare: { account_id: cf.accountId, zone: cf.zone.name, api_token: "env:CF_TOKEN_FOR_DEVX" } } };
  const env = { CF_TOKEN_FOR_DEVX: cf.token, DEVX_CLOUDFLARE_API: cf.url, USER: "dev", ...extra };
  return testDeps(new ExecStub([]), { config, env });
}

async function withTunnel(cf: FakeCloudflare) {
  const t = setup(cf);
  const s = await cloudflareSetup(t.deps);
  const { tunnel } = await ensureVmTunnel(s);
  return { ...t, s, tunnel };
}

describe("devx tunnel against a Cloudflare API v4 server", () => {
  test("expose → list → unexpose leaves nothing behind, and keeps other rules and the 404 catch-all", async () => {
    await using cf = await startFakeCloudflare();
    const { deps, s, tunnel } = await withTunnel(cf);
    // a rule someone added by hand stays untouched
    cf.configs.set(tunnel.id, { version: 1, created_at: new Date().toISOString(), config: { ingress: [{ hostname: "manual.example.dev", service: "http://localhost:9999" }, { service: "http_status:404" }] } });

    const e = await expose(deps, { port: 3000, name: "web" }, s);
    expect(e).toMatchObject({ url: "https://web.example.dev", hostname: "web.example.dev", service: "http://localhost:3000", live: true });
    expect(cf.configs.get(tunnel.id)!.config.ingress).toEqual([
      { hostname: "manual.example.dev", service: "http://localhost:9999" },
      { hostname: "web.example.dev", service: "http://localhost:3000" },
      { service: "http_status:404" },
    ]);
    const recs = [...cf.records.values()];
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ type: "CNAME", name: "web.example.dev", content: `${tunnel.id}.cfargotunnel.com`, proxied: true, comment: `devx: owner=${s.owner} vm=devx` });

    // idempotent: exposing the same thing again changes nothing
    await expose(deps, { port: 3000, name: "web" }, s);
    expect(cf.records.size).toBe(1);
    expect(cf.configs.get(tunnel.id)!.version).toBe(2);

    const listed = await listTunnels(deps, {}, s);
    expect(listed.exposures).toEqual([
      { name: "manual", hostname: "manual.example.dev", url: "https://manual.example.dev", service: "http://localhost:9999", port: 9999, ingress: true, dns: false, live: false, auth: "unknown" },
      { name: "web", hostname: "web.example.dev", url: "https://web.example.dev", service: "http://localhost:3000", port: 3000, ingress: true, dns: true, live: true, auth: "none" },
    ]);

    expect(cf.workers.size + cf.routes.size).toBe(0);
    expect(await unexpose(deps, { name: "web" }, s)).toEqual({ hostname: "web.example.dev", removedIngress: true, removedDns: true });
    expect(cf.records.size).toBe(0);
    expect(cf.configs.get(tunnel.id)!.config.ingress).toEqual([{ hostname: "manual.example.dev", service: "http://localhost:9999" }, { service: "http_status:404" }]);
    await expect(unexpose(deps, { name: "web" }, s)).rejects.toBeInstanceOf(NotFoundError);
    // the token only ever travelled in the header
    for (const l of cf.log) expect(l).not.toContain(cf.token);
  });

  test("a missing DNS permission surfaces as PermissionError naming Zone:DNS:Edit, and the rule is taken back", async () => {
    await using cf = await startFakeCloudflare();
    const { deps, s, tunnel } = await withTunnel(cf);
    cf.permissions.delete("Zone:DNS:Edit");
    cf.permissions.add("Zone:DNS:Read");
    const e = await expose(deps, { port: 8080, name: "api" }, s).catch((x) => x);
    expect(e).toBeInstanceOf(PermissionError);
    expect(e.message).toContain("Authentication error (code 10000)");
    expect(e.hint).toBe('add the permission "Zone:DNS:Edit" to your API token (https://dash.cloudflare.com/profile/api-tokens)');
    expect(cf.records.size).toBe(0);
    expect(cf.configs.get(tunnel.id)!.config.ingress).toEqual([{ service: "http_status:404" }]);
  });

  test("bad token, missing tunnel permission, unknown zone, taken name, nested name", async () => {
    await using cf = await startFakeCloudflare();
    const bad = setup(cf, { CF_TOKEN_FOR_DEVX: "not-the-token" });
    const e1 = await listTunnels(bad.deps).catch((x) => x);
    expect(e1).toBeInstanceOf(PermissionError);
    expect(e1.message).toContain("Invalid API Token (code 1000)");

    const { deps, s, tunnel } = await withTunnel(cf);
    cf.permissions.delete("Account:Cloudflare Tunnel:Edit");
    const e2 = await ensureVmTunnel({ ...s, vmName: "other", tunnelName: "devx-other-dev" }).catch((x) => x);
    expect(e2).toBeInstanceOf(PermissionError);
    expect(e2.hint).toContain('"Account:Cloudflare Tunnel:Read"');
    cf.permissions.add("Account:Cloudflare Tunnel:Edit");

    const e3 = await expose(deps, { port: 1, domain: "not-mine.io" }, s).catch((x) => x);
    expect(e3).toBeInstanceOf(NotFoundError);
    expect(e3.hint).toContain("Zone:Zone:Read");

    cf.records.set("r1", { id: "r1", zone_id: cf.zone.id, zone_name: cf.zone.name, name: "www.example.dev", type: "A", content: "192.0.2.1", proxiable: true, proxied: true, ttl: 1, comment: null, tags: [], created_on: "", modified_on: "" });
    const e4 = await expose(deps, { port: 80, name: "www" }, s).catch((x) => x);
    expect(e4).toBeInstanceOf(ConflictError);
    expect(e4.message).toContain("www.example.dev already has a DNS record (A → 192.0.2.1)");
    expect(cf.configs.get(tunnel.id)).toBeUndefined();

    await expect(expose(deps, { port: 80, name: "a.b" }, s)).rejects.toBeInstanceOf(UsageError);

    // the API's own "record exists" error (a race with another writer) maps to ConflictError too
    cf.failNext("POST", /dns_records$/, 400, [{ code: 81053, message: "An A, AAAA, or CNAME record with that host already exists." }]);
    const e5 = await expose(deps, { port: 81, name: "race" }, s).catch((x) => x);
    expect(e5).toBeInstanceOf(ConflictError);
    expect(cf.configs.get(tunnel.id)!.config.ingress).toEqual([{ service: "http_status:404" }]);
  });

  test("--basic-auth: a Worker guards the host before its DNS record exists; the Worker itself challenges and passes", async () => {
    await using cf = await startFakeCloudflare();
    const { deps, s } = await withTunnel(cf);
    const e = await expose(deps, { port: 3000, name: "admin", basicAuth: { user: "alice", password: "s3cret pass:word" } }, s);
    expect(e.auth).toBe("basic");
    const w = cf.workers.get("devx-auth-admin-example-dev")!;
    expect(w.moduleType).toBe("application/javascript+module");
    const digest = new Bun.CryptoHasher("sha256").update("alice:s3cret pass:word").digest("hex");
    expect(w.bindings).toEqual([{ type: "secret_text", name: "DEVX_BASIC_AUTH_SHA256", text: digest }]);
    expect([...cf.routes.values()]).toEqual([{ id: expect.any(String), zone_id: cf.zone.id, pattern: "admin.example.dev/*", script: "devx-auth-admin-example-dev" }]);
    const order = cf.log.map((l) => l.split("?")[0]!);
    expect(order.indexOf(`POST /zones/${cf.zone.id}/workers/routes`)).toBeLessThan(order.indexOf(`POST /zones/${cf.zone.id}/dns_records`));
    expect(cf.log.join("\n") + w.module).not.toContain("s3cret");
    expect((await listTunnels(deps, {}, s)).exposures[0]!.auth).toBe("basic");

    // run the uploaded Worker module against a real origin on 127.0.0.1
    await using origin = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("from the VM") });
    const file = `${process.env.DEVX_TEST_ROOT}/worker-${crypto.randomUUID()}.mjs`;
    await Bun.write(file, w.module);
    const worker = (await import(file)).default as { fetch(r: Request, env: Record<string, string>): Promise<Response> };
    const env = { DEVX_BASIC_AUTH_SHA256: digest };
    const at = `http://127.0.0.1:${origin.port}/`;
    const none = await worker.fetch(new Request(at), env);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toBe('Basic realm="devx", charset="UTF-8"');
    const basic = (u: string) => ({ Authorization: `Basic ${btoa(u)}` });
    expect((await worker.fetch(new Request(at, { headers: basic("alice:wrong") }), env)).status).toBe(401);
    expect((await worker.fetch(new Request(at, { headers: { Authorization: "Basic %%%" } }), env)).status).toBe(401);
    const ok = await worker.fetch(new Request(at, { headers: basic("alice:s3cret pass:word") }), env);
    expect([ok.status, await ok.text()]).toEqual([200, "from the VM"]);

    await unexpose(deps, { name: "admin" }, s);
    expect([cf.records.size, cf.routes.size, cf.workers.size]).toEqual([0, 0, 0]);

    // a guard whose record vanished is collected by gc; a failed DNS step takes the guard back
    await expose(deps, { port: 3001, name: "panel", basicAuth: { user: "a", password: "b" } }, s);
    cf.records.clear();
    expect((await gc(deps, { graceMs: 0 }, s)).removed.map((i) => i.kind).sort()).toEqual(["auth", "ingress"]);
    expect([cf.routes.size, cf.workers.size]).toEqual([0, 0]);
    cf.failNext("POST", /dns_records$/, 403, [{ code: 10000, message: "Authentication error" }]);
    await expect(expose(deps, { port: 3002, name: "x", basicAuth: { user: "a", password: "b" } }, s)).rejects.toBeInstanceOf(PermissionError);
    expect([cf.records.size, cf.routes.size, cf.workers.size]).toEqual([0, 0, 0]);
  });

  test("lists follow result_info across pages of 2, and the DNS lookups are filtered queries", async () => {
    await using cf = await startFakeCloudflare();
    const { s, tunnel } = await withTunnel(cf);
    for (let i = 0; i < 7; i++) cf.addRecord({ name: `h${i}.example.dev`, type: "CNAME", content: "x.example.org" });
    for (let i = 0; i < 3; i++) cf.addRecord({ name: `t${i}.example.dev`, type: "CNAME", content: `${tunnel.id}.cfargotunnel.com`, comment: `devx: owner=${s.owner} vm=devx` });
    expect((await s.cf.listDnsRecords(cf.zone.id, { type: "CNAME" })).length).toBe(10);
    const pages = cf.log.filter((l) => l.includes("/dns_records?")).map((l) => new URL(`http://x${l.split(" ")[1]}`).searchParams);
    expect(pages.map((p) => [p.get("page"), p.get("per_page")])).toEqual([1, 2, 3, 4, 5].map((n) => [String(n), "100"]));
    cf.log.length = 0;
    expect((await s.cf.listDnsRecords(cf.zone.id, { type: "CNAME", content: `${tunnel.id}.cfargotunnel.com` })).map((r) => r.name).sort()).toEqual(["t0.example.dev", "t1.example.dev", "t2.example.dev"]);
    expect(cf.log.length).toBe(2);
    expect(cf.log[0]).toContain(`content.exact=${tunnel.id}.cfargotunnel.com`);
    expect(cf.violations).toEqual([]);
  });

  test("gc removes this VM's orphans devx made (past the grace period) and keeps the user's rules and foreign records", async () => {
    await using cf = await startFakeCloudflare();
    const { deps, s, tunnel } = await withTunnel(cf);
    await expose(deps, { port: 3000, name: "live" }, s);
    await expose(deps, { port: 3001, name: "lost-rule" }, s);
    // the record of lost-rule disappears (deleted by hand): its rule is now an orphan
    const lost = [...cf.records.values()].find((r) => r.name === "lost-rule.example.dev")!;
    cf.records.delete(lost.id);
    // a rule the user added by hand, without a record: not devx's, so it stays
    const conf = cf.configs.get(tunnel.id)!;
    conf.config.ingress.splice(-1, 0, { hostname: "manual.example.dev", service: "http://localhost:9999" });
    // a devx record of this tunnel whose rule is gone, made an hour ago
    cf.addRecord({ name: "stale.example.dev", type: "CNAME", content: `${tunnel.id}.cfargotunnel.com`, comment: `devx: owner=${s.owner} vm=devx`, created_on: new Date(Date.now() - 3_600_000).toISOString() });
    cf.addRecord({ name: "blog.example.dev", type: "CNAME", content: "ghs.example.org" });

    // within the grace period only the hour-old record is old enough
    const young = await gc(deps, { dryRun: true }, s);
    expect(young.removed).toEqual([{ kind: "dns", hostname: "stale.example.dev", tunnel: tunnel.name, reason: "its tunnel no longer routes this host" }]);
    expect(young.kept).toEqual([{ kind: "ingress", hostname: "lost-rule.example.dev", tunnel: tunnel.name, reason: `no DNS record points at ${tunnel.name} for it, but devx added it less than the grace period ago` }]);

    const preview = await gc(deps, { dryRun: true, graceMs: 0 }, s);
    expect(preview.removed).toEqual([
      { kind: "dns", hostname: "stale.example.dev", tunnel: tunnel.name, reason: "its tunnel no longer routes this host" },
      { kind: "ingress", hostname: "lost-rule.example.dev", tunnel: tunnel.name, reason: `no DNS record points at ${tunnel.name} for it` },
    ]);
    expect(cf.records.size).toBe(3);
    expect((await gc(deps, { graceMs: 0 }, s)).removed).toEqual(preview.removed);
    expect([...cf.records.values()].map((r) => r.name).sort()).toEqual(["blog.example.dev", "live.example.dev"]);
    expect(cf.configs.get(tunnel.id)!.config.ingress).toEqual([{ hostname: "live.example.dev", service: "http://localhost:3000" }, { hostname: "manual.example.dev", service: "http://localhost:9999" }, { service: "http_status:404" }]);
    expect((await gc(deps, { graceMs: 0 }, s)).removed).toEqual([]);
    expect(cf.violations).toEqual([]);
  });

  test("vm init creates the VM's tunnel and puts its token only in the 0600 ignition file", async () => {
    await using cf = await startFakeCloudflare();
    const { home } = tempHome();
    const cfgPath = `${home}/devx/state/vm/devx/ignition.json`;
    const stub = new ExecStub(
      [
        { argv: ["podman", "--version"], stdout: PODMAN.version },
        { argv: ["podman", "machine", "inspect", "devx"], stderr: PODMAN.inspectMissingStderr, code: 125 },
        { argv: ["podman", "machine", "init", "--cpus", "2", "--memory", "4096", "--disk-size", "60", "--ignition-path", cfgPath, "devx"], stdout: PODMAN.initStdout },
        { argv: ["podman", "machine", "start", "devx"], stdout: PODMAN.startStdout },
      ],
      { podman: BINS.podman },
    );
    const config: DevxConfig = { vm: { provider: "podman", cloudflare: { account_id: cf.accountId, zone: cf.zone.name, api_token: "env:CF" } } };
    const { deps } = testDeps(stub, { config, env: { HOME: home, CF: cf.token, DEVX_CLOUDFLARE_API: cf.url } });
    const r = await vmInit(deps, {});
    stub.verify();
    expect(r.steps.map((x) => x.kind)).toEqual(["api", "write", "exec", "exec"]);
    const t = [...cf.tunnels.values()];
    expect(t.map((x) => [x.name, x.config_src])).toEqual([[tunnelNameFor("devx", (await peekOwnerId(deps.paths.state))!), "cloudflare"]]);
    expect((await peekOwnerId(deps.paths.state))!).toMatch(/^dev-[a-z0-9]{6}$/);
    const ign = JSON.parse(await Bun.file(cfgPath).text());
    const secrets = ign.storage.files.find((f: { path: string }) => f.path === "/etc/devx/secrets.env");
    expect(secrets.mode).toBe(0o600);
    expect(Buffer.from(secrets.contents.source.split(",")[1], "base64").toString()).toMatch(/^TUNNEL_TOKEN=[A-Za-z0-9+/=]{40,}\n$/);
    expect(ign.systemd.units.map((u: { name: string }) => u.name)).toContain("devx-cloudflared.service");
    expect(JSON.stringify(r)).not.toContain(cf.token);
  });

  test("vm rm also deletes the VM's tunnel (after its connections) and the devx records and guards pointing at it", async () => {
    await using cf = await startFakeCloudflare();
    const { deps, s, tunnel } = await withTunnel(cf);
    await expose(deps, { port: 3000, name: "web", basicAuth: { user: "u", password: "p" } }, s);
    await s.cf.createDnsRecord(cf.zone.id, { type: "CNAME", name: "blog.example.dev", content: "ghs.example.org", proxied: true, ttl: 1 });
    cf.tunnels.get(tunnel.id)!.connections = [{ colo_name: "ams01", is_pending_reconnect: false }];
    const stub = new ExecStub([
      { argv: ["podman", "--version"], stdout: PODMAN.version },
      { argv: ["podman", "machine", "inspect", "devx"], stdout: PODMAN.inspectRunning },
      { argv: ["podman", "machine", "rm", "--force", "devx"] },
    ], { podman: BINS.podman });
    const config: DevxConfig = { vm: { provider: "podman", cloudflare: { account_id: cf.accountId, zone: cf.zone.name, api_token: "env:CF" } } };
    const r = await vmRemove(testDeps(stub, { config, env: { CF: cf.token, DEVX_CLOUDFLARE_API: cf.url }, global: { yes: true } }).deps, {});
    stub.verify();
    expect(r.steps.map((x) => x.kind)).toEqual(["exec", "api"]);
    expect(cf.tunnels.get(tunnel.id)!.deleted_at).not.toBeNull();
    expect([...cf.records.values()].map((x) => x.name)).toEqual(["blog.example.dev"]);
    expect([cf.routes.size, cf.workers.size]).toEqual([0, 0]);
  });

  test("the CLI: expose prints only the URL; list --json is one document; API errors exit with the permission code", async () => {
    await using cf = await startFakeCloudflare();
    await withTunnel(cf);
    const dir = `${process.env.DEVX_TEST_ROOT}/proj-${crypto.randomUUID().slice(0, 6)}`;
    await Bun.write(`${dir}/devx.yaml`, `name: app\nvm:\n  cloudflare:\n    account_id: ${cf.accountId}\n    zone: ${cf.zone.name}\n`);
    const env: Record<string, string | undefined> = { ...process.env, CLOUDFLARE_API_TOKEN: cf.token, DEVX_CLOUDFLARE_API: cf.url, USER: "dev" };
    const cli = async (...argv: string[]) => {
      const io = memoryIO();
      const code = await runCli(argv, { io, env, cwd: dir });
      return { code, out: io.stdout(), err: io.stderr() };
    };
    const dry = await cli("tunnel", "expose", "5173", "--name", "vite", "--dry-run");
    expect(dry.code).toBe(0);
    expect(dry.out.split("\n").map((l) => l.split(" ")[0])).toEqual(["PUT", "POST", ""]);
    expect([cf.records.size, cf.configs.size]).toEqual([0, 0]);
    const ex = await cli("tunnel", "expose", "5173", "--name", "vite");
    expect(ex).toMatchObject({ code: 0, out: "https://vite.example.dev\n" });
    env.DEVX_BASIC_AUTH_PASSWORD = "pw-from-env";
    const guarded = await cli("tunnel", "expose", "9000", "--name", "adm", "--basic-auth", "root");
    expect(guarded).toMatchObject({ code: 0, out: "https://adm.example.dev\n" });
    expect(cf.workers.get("devx-auth-adm-example-dev")!.bindings[0]!.text).toBe(new Bun.CryptoHasher("sha256").update("root:pw-from-env").digest("hex"));
    expect((await cli("tunnel", "list")).out).toBe("https://adm.example.dev   http://localhost:9000   basic auth\nhttps://vite.example.dev  http://localhost:5173\n");
    const dryUn = await cli("tunnel", "unexpose", "adm", "--dry-run");
    expect(dryUn.out.split("\n").map((l) => l.split(" ").slice(0, 2).join(" ").replace(/\/[0-9a-f]{32}\/?.*$/, ""))).toEqual(["DELETE /zones", "PUT /accounts", "DELETE /zones", "DELETE /accounts", ""]);
    expect(cf.workers.size).toBe(1);
    expect((await cli("tunnel", "unexpose", "adm")).code).toBe(0);
    const ls = await cli("tunnel", "list", "--json");
    expect(JSON.parse(ls.out).exposures.map((e: { url: string }) => e.url)).toEqual(["https://vite.example.dev"]);
    cf.permissions.delete("Zone:DNS:Edit");
    cf.permissions.add("Zone:DNS:Read");
    const un = await cli("tunnel", "unexpose", "vite", "--json");
    const { exitCodeFor } = await import("../../../src/cli/exit-codes.ts");
    expect(un.code).toBe(exitCodeFor("permission"));
    expect(JSON.parse(un.out).error.hint).toContain("Zone:DNS:Edit");
    expect(un.out + un.err).not.toContain(cf.token);
  });
});
