import { describe, expect, test } from "bun:test";
import type { SandboxInfo, SandboxSpec, SessionBackend } from "../../../providers/session/types.ts";
import { SessionController } from "../../../src/core/session/controller.ts";
import { volumeOnlyPersistence } from "../../../src/core/session/persistence.ts";
import { forwardHeaders } from "../../../src/core/session/server.ts";
import { SqliteStore } from "../../../src/core/session/store/sqlite.ts";
import { ConflictError } from "../../../src/errors.ts";

/** The controller's decisions on a recording backend (the real one is tested on podman: test/integration/session). */
class FakeBackend implements SessionBackend {
  readonly name = "fake";
  calls: string[] = [];
  sandboxes = new Map<string, { state: SandboxInfo["state"]; workspace: boolean; exitCode?: number }>();
  specs: SandboxSpec[] = [];
  /** runs inside list(), after the sandboxes were read: what happens meanwhile */
  duringList?: () => Promise<void>;
  /** blocks start() until released */
  gate?: Promise<void>;

  async create(spec: SandboxSpec) {
    this.calls.push(`create ${spec.session}`);
    this.specs.push(spec);
    this.sandboxes.set(spec.session, { state: "created", workspace: true });
  }
  async workspaceDir(s: string) {
    return `/volumes/${s}`;
  }
  async start(s: string) {
    this.calls.push(`start ${s}`);
    await this.gate;
    this.sandboxes.get(s)!.state = "running";
    return { runnerUrl: `http://runner-${s}` };
  }
  async stop(s: string) {
    this.calls.push(`stop ${s}`);
    const b = this.sandboxes.get(s);
    if (b && b.state !== "missing") b.state = "exited";
  }
  async remove(s: string, o: { keepWorkspace?: boolean } = {}) {
    this.calls.push(`remove ${s}${o.keepWorkspace ? " keep-workspace" : ""}`);
    if (o.keepWorkspace) this.sandboxes.set(s, { state: "missing", workspace: true });
    else this.sandboxes.delete(s);
  }
  async inspect(s: string): Promise<SandboxInfo> {
    const b = this.sandboxes.get(s);
    return { session: s, name: s, state: b?.state ?? "missing", exitCode: b?.exitCode };
  }
  async list() {
    const found = [...this.sandboxes.keys()];
    await this.duringList?.();
    return Promise.all(found.map((s) => this.inspect(s)));
  }
  async logs() {
    return "";
  }
}

function setup() {
  const store = new SqliteStore(":memory:");
  const backend = new FakeBackend();
  const events: string[] = [];
  const c = new SessionController({ store, backend, persistence: volumeOnlyPersistence, emit: (e) => void events.push(e.type === "state" ? `${e.node} ${e.state}` : e.type), holder: "test", now: () => new Date(), bucketPrefix: "sessions" });
  return { store, backend, c, events };
}

const template = { name: "default", image: "localhost/devx-session:x", created: new Date().toISOString() };

describe("session controller", () => {
  test("limits not given keep their defaults (an undefined one used to erase it)", async () => {
    const { store, backend, c } = setup();
    await store.putTemplate(template);
    const r = await c.create({ owner: "alice", template: "default", name: "lim-1", limits: { cpus: 1, memoryMiB: undefined, pids: undefined } });
    expect(r.limits).toEqual({ cpus: 1, memoryMiB: 2048, pids: 1024 });
    expect(backend.specs[0]!.limits).toEqual({ cpus: 1, memoryMiB: 2048, pids: 1024 });
  });

  test("without a bucket, stop removes the sandbox and keeps its workspace; delete removes both", async () => {
    const { store, backend, c, events } = setup();
    await store.putTemplate(template);
    await c.create({ owner: "alice", template: "default", name: "keep-1" });
    expect((await c.stop("keep-1")).state).toBe("stopped");
    expect(backend.calls).toContain("remove keep-1 keep-workspace");
    expect(backend.sandboxes.get("keep-1")).toEqual({ state: "missing", workspace: true });
    expect((await c.start("keep-1")).state).toBe("running");
    await c.remove("keep-1");
    expect(backend.calls.at(-1)).toBe("remove keep-1");
    expect(backend.sandboxes.has("keep-1")).toBe(false);
    expect(await store.getSession("keep-1")).toBeUndefined();
    // one event per state change, not per write
    expect(events.filter((e) => e === "keep-1 starting")).toHaveLength(2);
  });

  test("the watch pass adopts a sandbox without a record, but not one whose create began meanwhile", async () => {
    const { store, backend, c } = setup();
    await store.putTemplate(template);
    backend.sandboxes.set("orphan-1", { state: "running", workspace: true });
    await c.watch();
    expect(await store.getSession("orphan-1")).toMatchObject({ owner: "(adopted)", state: "stopped" });
    expect(backend.calls).toEqual(["stop orphan-1", "remove orphan-1 keep-workspace"]);

    // a create under way: its sandbox exists when the pass lists sandboxes, its record is written after the pass read records
    backend.calls = [];
    backend.duringList = async () => {
      await c.d.store.createSession({ ...(await store.getSession("orphan-1"))!, id: "fresh-1", owner: "alice", state: "starting", version: 1 });
    };
    backend.sandboxes.set("fresh-1", { state: "created", workspace: true });
    await c.watch();
    expect(backend.calls.filter((x) => x.includes("fresh-1"))).toEqual([]);
    expect((await store.getSession("fresh-1"))!.owner).toBe("alice");
  });

  test("the watch pass winds down a runner that stopped itself (idle, lifetime) and marks a vanished sandbox failed", async () => {
    const { store, backend, c } = setup();
    await store.putTemplate(template);
    for (const id of ["idle-1", "life-1", "gone-1", "live-1"]) await c.create({ owner: "alice", template: "default", name: id });
    backend.sandboxes.set("idle-1", { state: "exited", workspace: true, exitCode: 20 });
    backend.sandboxes.set("life-1", { state: "exited", workspace: true, exitCode: 21 });
    backend.sandboxes.delete("gone-1");
    backend.calls = [];
    await c.watch();
    expect(await store.getSession("idle-1")).toMatchObject({ state: "stopped", detail: "stopped: idle" });
    expect(await store.getSession("life-1")).toMatchObject({ state: "stopped", detail: "stopped: maximum lifetime reached" });
    expect(await store.getSession("gone-1")).toMatchObject({ state: "failed", detail: "its sandbox is gone" });
    expect(await store.getSession("live-1")).toMatchObject({ state: "running" });
    expect(backend.calls.filter((x) => x.startsWith("remove"))).toEqual(["remove idle-1 keep-workspace", "remove life-1 keep-workspace"]);
  });

  test("two operations on one session at once: the second waits for the first, never interleaved", async () => {
    const { store, backend, c } = setup();
    await store.putTemplate(template);
    await c.create({ owner: "alice", template: "default", name: "race-1" });
    await c.stop("race-1");
    let release!: () => void;
    backend.gate = new Promise<void>((r) => (release = r));
    const first = c.start("race-1");
    await Bun.sleep(0);
    while (!backend.calls.includes("start race-1")) await Bun.sleep(1);
    const callsBefore = backend.calls.length;
    const second = c.remove("race-1");
    await Bun.sleep(300);
    // still waiting for the lease: nothing of the remove has reached the backend
    expect(backend.calls.length).toBe(callsBefore);
    release();
    expect((await first).state).toBe("running");
    await second;
    expect(backend.calls.slice(callsBefore)).toEqual(["remove race-1"]);
    expect(await store.getSession("race-1")).toBeUndefined();
  });
});

describe("runner proxy headers", () => {
  test("the sign-in cookie and hop-by-hop headers stay with the control plane; the mount prefix goes along", () => {
    const req = new Request("http://cp.example:7420/s/abc-1/p/3000/x", { headers: { cookie: "devx_session=secret-login; theme=dark; devx_preview=tok", "keep-alive": "5", "x-app": "1" } });
    const h = forwardHeaders(req, new URL(req.url), "abc-1");
    expect(h.get("cookie")).toBe("theme=dark; devx_preview=tok");
    expect(h.get("keep-alive")).toBeNull();
    expect(h.get("x-app")).toBe("1");
    expect(h.get("x-forwarded-prefix")).toBe("/s/abc-1");
    expect(h.get("x-forwarded-host")).toBe("cp.example:7420");
    const only = new Request("http://cp/s/abc-1/v1/files/", { headers: { cookie: "devx_session=secret-login" } });
    expect(forwardHeaders(only, new URL(only.url), "abc-1").get("cookie")).toBeNull();
  });
});
