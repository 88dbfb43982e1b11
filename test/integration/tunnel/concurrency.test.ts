import { describe, expect, test } from "bun:test";
import { expose, unexpose } from "../../../src/core/tunnel/expose.ts";
import { gc } from "../../../src/core/tunnel/gc.ts";
import { cloudflareSetup } from "../../../src/core/tunnel/setup.ts";
import { updateJournal } from "../../../src/core/tunnel/local-state.ts";
import { PermissionError } from "../../../src/errors.ts";
import { startFakeCloudflare } from "../../support/fake-cloudflare.ts";
import { configReads, hostsOf, initVm, machine, recordNames, until, waitingForLock } from "./helpers.ts";

/**
 * Several devx commands on one machine changing the same tunnel at once. The configuration endpoint
 * takes the whole document with no version check: without the tunnel lock and the read-back check,
 * the command whose write lands last silently drops the others' rules while they print their URLs.
 * The first configuration write is held until the other command has either read the configuration
 * (no lock: the lost-update interleaving) or announced that it waits for the lock.
 */
const isPut = (r: { method: string; path: string }) => r.method === "PUT" && r.path.endsWith("/configurations");

describe("concurrent tunnel commands on one machine", () => {
  test("two exposes started together both stay routed, with their DNS records", async () => {
    await using cf = await startFakeCloudflare();
    const m = machine(cf);
    const { tunnel } = await initVm(m);
    const a = m.command();
    const b = m.command();
    const held = cf.hold(isPut);
    const pa = expose(a.deps, { port: 3000, name: "one" });
    await held.arrived;
    const reads = configReads(cf);
    const pb = expose(b.deps, { port: 3001, name: "two" });
    await until(() => waitingForLock(b.events) || configReads(cf) > reads, "the second expose to wait or to read");
    held.release();
    const [ea, eb] = await Promise.all([pa, pb]);
    expect([ea.url, eb.url]).toEqual(["https://one.example.dev", "https://two.example.dev"]);
    expect(hostsOf(cf, tunnel.id)).toEqual(["one.example.dev", "two.example.dev", "* → http_status:404"]);
    expect(recordNames(cf)).toEqual(["one.example.dev", "two.example.dev"]);
    expect(waitingForLock(b.events)).toBe(true);
    expect(cf.violations).toEqual([]);
  });

  test("five exposes started together all survive", async () => {
    await using cf = await startFakeCloudflare();
    const m = machine(cf);
    const { tunnel } = await initVm(m);
    const held = cf.hold(isPut);
    const cmds = [0, 1, 2, 3, 4].map(() => m.command());
    const first = expose(cmds[0]!.deps, { port: 4000, name: "app0" });
    await held.arrived;
    const reads = configReads(cf);
    const rest = cmds.slice(1).map((c, i) => expose(c.deps, { port: 4001 + i, name: `app${i + 1}` }));
    await until(() => cmds.slice(1).every((c) => waitingForLock(c.events)) || configReads(cf) >= reads + 4, "the other four to wait for the lock or to read");
    held.release();
    const all = await Promise.all([first, ...rest]);
    expect(all.map((e) => e.live)).toEqual([true, true, true, true, true]);
    // in the order the lock was granted, the catch-all last
    const hosts = hostsOf(cf, tunnel.id);
    expect(hosts.slice(0, -1).sort()).toEqual([0, 1, 2, 3, 4].map((i) => `app${i}.example.dev`));
    expect(hosts.at(-1)).toBe("* → http_status:404");
    expect(recordNames(cf)).toEqual([0, 1, 2, 3, 4].map((i) => `app${i}.example.dev`));
  });

  test("expose racing unexpose and gc: each does exactly its part and nothing else is lost", async () => {
    await using cf = await startFakeCloudflare();
    const m = machine(cf);
    const { s, tunnel } = await initVm(m);
    const setupCmd = m.command();
    for (const [port, name] of [[3000, "keep"], [3001, "old"], [3002, "orphan"]] as const) await expose(setupCmd.deps, { port, name }, s);
    // orphan lost its record an hour after devx added its rule: gc's to collect
    cf.records.delete([...cf.records.values()].find((r) => r.name === "orphan.example.dev")!.id);
    await updateJournal(setupCmd.deps.paths.state, tunnel.id, (j) => void (j.rules["orphan.example.dev"]!.addedAt -= 3_600_000));

    const [ex, un, col] = [m.command(), m.command(), m.command()];
    const held = cf.hold(isPut);
    const pExpose = expose(ex.deps, { port: 3003, name: "new" });
    await held.arrived;
    const reads = configReads(cf);
    const pUnexpose = unexpose(un.deps, { name: "old" });
    const pGc = gc(col.deps, { graceMs: 5 * 60_000 });
    await until(() => (waitingForLock(un.events) && waitingForLock(col.events)) || configReads(cf) > reads, "unexpose and gc to wait or to read");
    held.release();
    const [e, u, g] = await Promise.all([pExpose, pUnexpose, pGc]);
    expect(e.live).toBe(true);
    expect(u).toEqual({ hostname: "old.example.dev", removedIngress: true, removedDns: true });
    expect(g.removed.map((i) => `${i.kind} ${i.hostname}`)).toEqual(["ingress orphan.example.dev"]);
    expect(hostsOf(cf, tunnel.id)).toEqual(["keep.example.dev", "new.example.dev", "* → http_status:404"]);
    expect(recordNames(cf)).toEqual(["keep.example.dev", "new.example.dev"]);
  });

  test("the same name exposed twice at once: one creates it, the other finds it done, nothing is undone", async () => {
    await using cf = await startFakeCloudflare();
    const m = machine(cf);
    const { tunnel } = await initVm(m);
    const [a, b] = [m.command(), m.command()];
    const [ea, eb] = await Promise.all([expose(a.deps, { port: 3000, name: "web" }), expose(b.deps, { port: 3000, name: "web" })]);
    expect([ea.live, eb.live]).toEqual([true, true]);
    expect(hostsOf(cf, tunnel.id)).toEqual(["web.example.dev", "* → http_status:404"]);
    expect(recordNames(cf)).toEqual(["web.example.dev"]);
  });

  test("a failed expose takes back only what it made: a rule that was there before stays", async () => {
    await using cf = await startFakeCloudflare();
    const m = machine(cf);
    const { tunnel } = await initVm(m);
    // the same rule, added before by another command (or by hand), without its record yet
    cf.configs.set(tunnel.id, { version: 1, created_at: new Date().toISOString(), config: { ingress: [{ hostname: "web.example.dev", service: "http://localhost:3000" }, { service: "http_status:404" }] } });
    cf.failNext("POST", /dns_records$/, 403, [{ code: 10000, message: "Authentication error" }]);
    await expect(expose(m.command().deps, { port: 3000, name: "web" })).rejects.toBeInstanceOf(PermissionError);
    expect(hostsOf(cf, tunnel.id)).toEqual(["web.example.dev", "* → http_status:404"]);
    // and a rule it did add is taken back
    cf.failNext("POST", /dns_records$/, 403, [{ code: 10000, message: "Authentication error" }]);
    await expect(expose(m.command().deps, { port: 3001, name: "api" })).rejects.toBeInstanceOf(PermissionError);
    expect(hostsOf(cf, tunnel.id)).toEqual(["web.example.dev", "* → http_status:404"]);
  });

  test("a writer outside devx's lock replacing the configuration between write and read-back: devx merges again and its rule is there", async () => {
    await using cf = await startFakeCloudflare();
    const m = machine(cf);
    const { tunnel } = await initVm(m);
    const cmd = m.command();
    const s = await cloudflareSetup(cmd.deps);
    let gets = 0;
    // the read-back after devx's write: the dashboard writes its own rule in just before it
    const readBack = cf.hold((r) => r.method === "GET" && r.path.endsWith("/configurations") && ++gets === 2);
    const p = expose(cmd.deps, { port: 3000, name: "web" }, s);
    await readBack.arrived;
    cf.configs.set(tunnel.id, { version: 9, created_at: new Date().toISOString(), config: { ingress: [{ hostname: "dash.example.dev", service: "http://localhost:8000" }, { service: "http_status:503" }] } });
    readBack.release();
    const e = await p;
    expect(e.live).toBe(true);
    expect(cf.configs.get(tunnel.id)!.config.ingress).toEqual([{ hostname: "dash.example.dev", service: "http://localhost:8000" }, { hostname: "web.example.dev", service: "http://localhost:3000" }, { service: "http_status:503" }]);
    expect(cmd.events.some((x) => x.type === "info" && x.message.includes("merging again"))).toBe(true);
  });
});
