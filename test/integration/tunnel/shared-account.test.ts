import { describe, expect, test } from "bun:test";
import { expose, listTunnels, unexpose } from "../../../src/core/tunnel/expose.ts";
import { gc } from "../../../src/core/tunnel/gc.ts";
import { cloudflareSetup } from "../../../src/core/tunnel/setup.ts";
import { updateJournal } from "../../../src/core/tunnel/local-state.ts";
import { NetworkError, NotFoundError } from "../../../src/errors.ts";
import { startFakeCloudflare } from "../../support/fake-cloudflare.ts";
import { hostsOf, initVm, machine, recordNames } from "./helpers.ts";

/**
 * Teammates in one Cloudflare account, with the same user name ("dev") and VM name ("devx") on
 * their own machines: what one developer's devx does never reaches the other's tunnel or records.
 */
describe("a Cloudflare account shared by a team", () => {
  test("default host names differ per developer even with the same user and VM name", async () => {
    await using cf = await startFakeCloudflare();
    const [alice, bob] = [machine(cf), machine(cf)];
    const [a, b] = [await initVm(alice), await initVm(bob)];
    expect(a.tunnel.id).not.toBe(b.tunnel.id);
    const ea = await expose(alice.command().deps, { port: 3000 });
    const eb = await expose(bob.command().deps, { port: 3000 });
    expect(ea.hostname).toBe(`devx-3000-${a.s.owner}.example.dev`);
    expect(eb.hostname).toBe(`devx-3000-${b.s.owner}.example.dev`);
    expect(ea.hostname).not.toBe(eb.hostname);
    expect([ea.live, eb.live]).toEqual([true, true]);
    expect(hostsOf(cf, a.tunnel.id)).toEqual([ea.hostname, "* → http_status:404"]);
    expect(hostsOf(cf, b.tunnel.id)).toEqual([eb.hostname, "* → http_status:404"]);
  });

  test("gc (and gc --all-mine) leaves a teammate's tunnel and records alone, even half-way through their expose", async () => {
    await using cf = await startFakeCloudflare();
    const [alice, bob] = [machine(cf), machine(cf)];
    const a = await initVm(alice);
    const b = await initVm(bob);
    await expose(bob.command().deps, { port: 3000, name: "bob-web" });
    await expose(bob.command().deps, { port: 3001, name: "bob-old" });
    // bob's expose of bob-new is half-way: its rule exists, its record not yet
    const bobConfig = cf.configs.get(b.tunnel.id)!;
    bobConfig.config.ingress.splice(-1, 0, { hostname: "bob-new.example.dev", service: "http://localhost:3002" });
    // and bob-old lost its record long ago
    cf.records.delete([...cf.records.values()].find((r) => r.name === "bob-old.example.dev")!.id);
    // a removed VM of bob's left a devx record behind
    const gone = cf.addTunnel(`devx-laptop-${b.s.owner}`);
    cf.addRecord({ name: "bob-gone.example.dev", type: "CNAME", content: `${gone.id}.cfargotunnel.com`, comment: `devx: owner=${b.s.owner} vm=laptop`, created_on: new Date(Date.now() - 86_400_000).toISOString() });
    cf.tunnels.get(gone.id)!.deleted_at = new Date().toISOString();
    // alice has an orphan of her own, and a removed VM of hers left a record too
    await expose(alice.command().deps, { port: 4000, name: "alice-lost" });
    cf.records.delete([...cf.records.values()].find((r) => r.name === "alice-lost.example.dev")!.id);
    const mine = cf.addTunnel(`devx-old-${a.s.owner}`);
    cf.addRecord({ name: "alice-gone.example.dev", type: "CNAME", content: `${mine.id}.cfargotunnel.com`, comment: `devx: owner=${a.s.owner} vm=old`, created_on: new Date(Date.now() - 86_400_000).toISOString() });
    cf.tunnels.get(mine.id)!.deleted_at = new Date().toISOString();

    const bobBefore = structuredClone(cf.configs.get(b.tunnel.id));
    const vmOnly = await gc(alice.command().deps, { graceMs: 0 });
    expect(vmOnly.tunnels).toEqual([a.tunnel.name]);
    expect(vmOnly.removed.map((i) => `${i.kind} ${i.hostname}`)).toEqual(["ingress alice-lost.example.dev"]);
    const all = await gc(alice.command().deps, { graceMs: 0, allMine: true });
    expect(all.removed.map((i) => `${i.kind} ${i.hostname}`)).toEqual(["dns alice-gone.example.dev"]);
    expect(cf.configs.get(b.tunnel.id)).toEqual(bobBefore);
    expect(recordNames(cf)).toEqual(["bob-gone.example.dev", "bob-web.example.dev"]);
    // bob's own gc collects bob-old (a rule his devx added) but not his half-made bob-new (no journal entry: not devx's as far as it knows)
    const bobs = await gc(bob.command().deps, { graceMs: 0, allMine: true });
    expect(bobs.removed.map((i) => `${i.kind} ${i.hostname}`).sort()).toEqual(["dns bob-gone.example.dev", "ingress bob-old.example.dev"]);
    expect(hostsOf(cf, b.tunnel.id)).toEqual(["bob-web.example.dev", "bob-new.example.dev", "* → http_status:404"]);
  });

  test("gc needs the tunnel `vm init` recorded; it never picks a tunnel by a name a teammate may share", async () => {
    await using cf = await startFakeCloudflare();
    const fresh = machine(cf);
    // a teammate's tunnel under the old `devx-<vm>-<user>` naming, same user and VM name
    cf.addTunnel("devx-devx-dev", { ingress: [{ hostname: "theirs.example.dev", service: "http://localhost:1" }, { service: "http_status:404" }] });
    const e = await gc(fresh.command().deps, { graceMs: 0 }).catch((x) => x);
    expect(e).toBeInstanceOf(NotFoundError);
    expect(e.hint).toContain("--all-mine");
  });

  test("a user's own rules stay as they are and in order: their catch-all, path-only rules; no second catch-all", async () => {
    await using cf = await startFakeCloudflare();
    const m = machine(cf);
    const { tunnel } = await initVm(m);
    const user = [
      { hostname: "docs.example.dev", service: "http://localhost:8000", originRequest: { noTLSVerify: true } },
      { path: "^/healthz$", service: "http_status:204" },
      { service: "http://localhost:8081" },
    ];
    cf.configs.set(tunnel.id, { version: 3, created_at: new Date().toISOString(), config: { ingress: structuredClone(user), originRequest: { connectTimeout: 5 } } });
    await expose(m.command().deps, { port: 3000, name: "web" });
    expect(cf.configs.get(tunnel.id)!.config).toEqual({ ingress: [user[0]!, user[1]!, { hostname: "web.example.dev", service: "http://localhost:3000" }, user[2]!], originRequest: { connectTimeout: 5 } });
    const listed = await listTunnels(m.command().deps);
    expect(listed.exposures.map((x) => [x.hostname, x.auth])).toEqual([["docs.example.dev", "unknown"], ["web.example.dev", "none"]]);
    await unexpose(m.command().deps, { name: "web" });
    expect(cf.configs.get(tunnel.id)!.config).toEqual({ ingress: user, originRequest: { connectTimeout: 5 } });
    // gc treats the user's rules as theirs, however old
    await updateJournal(m.command().deps.paths.state, tunnel.id, () => {});
    expect((await gc(m.command().deps, { graceMs: 0 })).removed).toEqual([]);
    expect(cf.configs.get(tunnel.id)!.config.ingress).toEqual(user);
  });

  test("429 is retried after the Retry-After the API sent; 5xx twice is retried; a long Retry-After fails with when to come back", async () => {
    await using cf = await startFakeCloudflare();
    const m = machine(cf);
    await initVm(m);
    const cmd = m.command();
    const waits: number[] = [];
    const deps = { ...cmd.deps, clock: { now: () => Date.now(), sleep: (ms: number) => (waits.push(ms), new Promise<void>((r) => setTimeout(r, ms))) } };
    // the budget runs out half-way through the expose, once
    cf.rateLimit({ budget: 5, retryAfter: 1 });
    const e = await expose(deps, { port: 3000, name: "web" }, await cloudflareSetup(deps));
    expect(e.live).toBe(true);
    expect(waits).toEqual([1000]);
    expect(cmd.events.some((x) => x.type === "info" && /HTTP 429; retrying in 1\.0 s/.test(x.message))).toBe(true);
    expect(cf.log.length).toBeGreaterThan(4);

    cf.rateLimit({ budget: 1_000_000, retryAfter: 1 });
    waits.length = 0;
    cf.failNext("GET", /configurations$/, 502, [{ code: 1002, message: "Bad gateway" }]);
    cf.failNext("GET", /configurations$/, 503, [{ code: 1002, message: "Service unavailable" }]);
    expect((await listTunnels(deps)).exposures.map((x) => x.hostname)).toEqual(["web.example.dev"]);
    expect(waits).toHaveLength(2);
    expect(waits[1]!).toBeGreaterThan(waits[0]!);

    cf.rateLimit({ budget: 0, retryAfter: 300 });
    const slow = await listTunnels(deps).catch((x) => x);
    expect(slow).toBeInstanceOf(NetworkError);
    expect(slow.hint).toContain("retry in 300 s");
  });

  test("without --basic-auth no Worker route is read (a plain token has no such permission); every list stays within its documented per_page", async () => {
    await using cf = await startFakeCloudflare({ permissions: ["Account:Cloudflare Tunnel:Edit", "Zone:DNS:Edit", "Zone:Zone:Read"] });
    const m = machine(cf);
    await initVm(m);
    await expose(m.command().deps, { port: 3000, name: "web" });
    await listTunnels(m.command().deps);
    await unexpose(m.command().deps, { name: "web" });
    await gc(m.command().deps, { graceMs: 0, allMine: true });
    expect(cf.log.filter((l) => l.includes("/workers/"))).toEqual([]);
    const perPage = cf.log.filter((l) => l.includes("per_page=")).map((l) => `${l.split("?")[0]!.replace(/[0-9a-f-]{32,36}/g, ":id")} ${new URL(`http://x${l.split(" ")[1]}`).searchParams.get("per_page")}`);
    expect(new Set(perPage)).toEqual(new Set(["GET /zones 50", "GET /accounts/:id/cfd_tunnel 100", "GET /zones/:id/dns_records 100"]));
    // every DNS lookup is a filtered query: none walks through the zone's records
    const dnsLists = cf.log.filter((l) => /^GET \/zones\/[^/]+\/dns_records\?/.test(l));
    expect(dnsLists.length).toBeGreaterThan(0);
    for (const l of dnsLists) expect(l).toMatch(/[?&](name\.exact|content\.exact|comment\.startswith)=/);
    expect(cf.violations).toEqual([]);
  });
});
