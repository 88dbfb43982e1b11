import { describe, expect, test } from "bun:test";
import { mkdtempSync, statSync } from "node:fs";
import { join } from "node:path";
import type { DevxEvent } from "../../../src/events/types.ts";
import type { DbContext } from "../../../src/core/db/db-context.ts";
import { spawnDatabase } from "../../../src/core/db/spawn.ts";
import { credentialsFile, readCredentials } from "../../../src/core/db/credentials.ts";
import { ConflictError, UnhealthyError } from "../../../src/errors.ts";
import { FakeRuntime } from "./fake-runtime.ts";

function ctx(rt: FakeRuntime, over: Partial<DbContext> = {}): DbContext & { events: DevxEvent[] } {
  const events: DevxEvent[] = [];
  return {
    runtime: rt,
    project: "shop",
    stateDir: mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "state-")),
    emit: (e) => events.push(e),
    signal: new AbortController().signal,
    configured: [],
    portFree: async () => true,
    pollMs: 1,
    events,
    ...over,
  };
}

const pgReady = [{ code: 0 }, { code: 0, stdout: "1\n" }];

describe("spawnDatabase", () => {
  test("postgres: labels, 127.0.0.1 port, named volume, password only in secretEnv, credentials 0600", async () => {
    const rt = new FakeRuntime();
    rt.execAnswers = [...pgReady];
    const c = ctx(rt);
    const db = await spawnDatabase(c, { engine: "postgres" });

    const spec = rt.runs[0]!;
    const creds = (await readCredentials(c.stateDir, "shop", "postgres"))!;
    expect(creds.password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(creds.user).toBe("shop");
    expect(creds.password).not.toBe("devx");
    expect(spec.name).toBe("devx-shop-postgres");
    expect(spec.image).toBe("docker.io/library/postgres:16");
    expect(spec.labels).toEqual({ "devx.managed": "true", "devx.project": "shop", "devx.kind": "database", "devx.engine": "postgres", "devx.database": "postgres" });
    expect(spec.ports).toEqual([{ hostIp: "127.0.0.1", hostPort: 5432, containerPort: 5432 }]);
    expect(spec.volumes).toEqual([{ name: "devx-shop-postgres-data", destination: "/var/lib/postgresql/data" }]);
    expect(spec.secretEnv).toEqual({ POSTGRES_PASSWORD: creds.password });
    expect(JSON.stringify([spec.env, spec.command, spec.labels, spec.name])).not.toContain(creds.password);
    expect(rt.volumes.get("devx-shop-postgres-data")?.labels["devx.kind"]).toBe("database");

    expect(statSync(credentialsFile(c.stateDir, "shop", "postgres")).mode & 0o777).toBe(0o600);
    expect(statSync(join(c.stateDir, "db", "shop")).mode & 0o777).toBe(0o700);
    expect(db.url).toBe(`postgres://shop:${creds.password}@127.0.0.1:5432/shop`);
    expect(db.reused).toBe(false);
  });

  test("waits for every probe: pg_isready failing twice, then SELECT 1 without the expected row, then ready", async () => {
    const rt = new FakeRuntime();
    const seen: string[] = [];
    const probe = (code: number, stdout = "") => (_n: string, cmd: string[]) => (seen.push(cmd[0] === "pg_isready" ? "isready" : "select"), { code, stdout });
    rt.execAnswers = [probe(2), probe(2), probe(0), probe(0, ""), probe(0), probe(0, "1\n")];
    await spawnDatabase(ctx(rt), { engine: "postgres" });
    expect(seen).toEqual(["isready", "isready", "isready", "select", "isready", "select"]);
    expect(rt.execAnswers).toHaveLength(0);
  });

  test("the probes never carry the password in argv", async () => {
    const rt = new FakeRuntime();
    const argvs: string[][] = [];
    rt.execAnswers = [(_n, cmd) => (argvs.push(cmd), { code: 0, stdout: "PONG\n" })];
    const c = ctx(rt);
    await spawnDatabase(c, { engine: "redis" });
    const pw = (await readCredentials(c.stateDir, "shop", "redis"))!.password;
    expect(argvs.flat().join(" ")).not.toContain(pw);
    expect(rt.runs[0]!.command!.join(" ")).not.toContain(pw);
    expect(rt.runs[0]!.secretEnv).toEqual({ REDIS_PASSWORD: pw });
  });

  test("a container that exits while starting fails at once with its last log lines", async () => {
    const rt = new FakeRuntime();
    rt.stateAfterRun = "exited";
    const err = await spawnDatabase(ctx(rt), { engine: "postgres" }).catch((e) => e);
    expect(err).toBeInstanceOf(UnhealthyError);
    expect(err.message).toContain("postgres stopped while starting (exited)");
    expect(err.message).toContain("FATAL: fake failure");
    expect(err.hint).toContain("devx db logs postgres");
  });

  test("a probe that never passes times out naming the probe", async () => {
    const rt = new FakeRuntime();
    rt.execAnswers = Array.from({ length: 10_000 }, () => ({ code: 1, stderr: "NOAUTH Authentication required." }));
    const err = await spawnDatabase(ctx(rt), { engine: "redis", timeoutMs: 30 }).catch((e) => e);
    expect(err).toBeInstanceOf(UnhealthyError);
    expect(err.message).toMatch(/redis was not ready after 0 s \(redis-cli ping: NOAUTH Authentication required\.\)/);
  });

  test("Ctrl-C while waiting cancels", async () => {
    const rt = new FakeRuntime();
    const ac = new AbortController();
    rt.execAnswers = [() => (ac.abort(), { code: 1 })];
    const err = await spawnDatabase(ctx(rt, { signal: ac.signal }), { engine: "redis" }).catch((e) => e);
    expect(err.kind).toBe("cancelled");
  });

  test("spawning again reuses the running container and its credentials", async () => {
    const rt = new FakeRuntime();
    rt.execAnswers = [{ code: 0, stdout: "PONG" }, { code: 0, stdout: "PONG" }];
    const c = ctx(rt);
    const a = await spawnDatabase(c, { engine: "redis" });
    const b = await spawnDatabase(c, { engine: "redis" });
    expect(b.reused).toBe(true);
    expect(b.url).toBe(a.url!);
    expect(rt.runs).toHaveLength(1);
  });

  test("a stopped container is replaced (data stays in the volume) and the volume is not recreated", async () => {
    const rt = new FakeRuntime();
    rt.execAnswers = [{ code: 0, stdout: "PONG" }, { code: 0, stdout: "PONG" }];
    const c = ctx(rt);
    await spawnDatabase(c, { engine: "redis" });
    rt.containers.get("devx-shop-redis")!.state = "exited";
    await spawnDatabase(c, { engine: "redis" });
    expect(rt.calls.filter((x) => x.startsWith("createVolume"))).toEqual(["createVolume devx-shop-redis-data"]);
    expect(rt.calls).toContain("remove devx-shop-redis");
    expect(rt.runs).toHaveLength(2);
  });

  test("a container of that name not made by devx is a conflict", async () => {
    const rt = new FakeRuntime();
    await rt.run({ name: "devx-shop-redis", image: "x", labels: {} });
    const err = await spawnDatabase(ctx(rt), { engine: "redis" }).catch((e) => e);
    expect(err).toBeInstanceOf(ConflictError);
  });

  test("a busy default port shifts and says so; a busy explicit --port is a conflict", async () => {
    const rt = new FakeRuntime();
    rt.execAnswers = [{ code: 0, stdout: "PONG" }];
    const busy = new Set([6379, 6380]);
    const c = ctx(rt, { portFree: async (p) => !busy.has(p) });
    const db = await spawnDatabase(c, { engine: "redis" });
    expect(db.port).toBe(6381);
    expect(c.events).toContainEqual(expect.objectContaining({ type: "warning", message: "port 6379 is busy: redis listens on 127.0.0.1:6381 instead" }));

    const err = await spawnDatabase(ctx(new FakeRuntime(), { portFree: async (p) => !busy.has(p) }), { engine: "redis", port: 6380, portExplicit: true }).catch((e) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect(err.message).toBe("port 6380 on 127.0.0.1 is already in use");
  });

  test("devx.yaml entry: name, image, version, port, env; flags win over it", async () => {
    const rt = new FakeRuntime();
    rt.execAnswers = [{ code: 0, stdout: "PONG" }, { code: 0, stdout: "PONG" }];
    const c = ctx(rt, { configured: [{ engine: "redis", name: "cache", version: "7.2", port: 7000, env: { TZ: "UTC" } }] });
    const db = await spawnDatabase(c, { name: "cache" });
    expect(rt.runs[0]).toMatchObject({ name: "devx-shop-cache", image: "docker.io/library/redis:7.2", env: { TZ: "UTC" }, ports: [{ hostPort: 7000 }] });
    expect(db).toMatchObject({ name: "cache", engine: "redis", port: 7000 });
    await spawnDatabase(c, { engine: "redis", name: "other", image: "localhost/r:1", port: 7001 });
    expect(rt.runs[1]).toMatchObject({ name: "devx-shop-other", image: "localhost/r:1", ports: [{ hostPort: 7001 }] });
  });

  test("mysql gets a separate generated root password", async () => {
    const rt = new FakeRuntime();
    rt.execAnswers = [{ code: 0, stdout: "mysqld is alive" }, { code: 0, stdout: "1\n" }];
    const c = ctx(rt);
    await spawnDatabase(c, { engine: "mysql" });
    const cr = (await readCredentials(c.stateDir, "shop", "mysql"))!;
    expect(cr.rootPassword).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(cr.rootPassword).not.toBe(cr.password);
    expect(rt.runs[0]!.secretEnv).toEqual({ MYSQL_PASSWORD: cr.password, MYSQL_ROOT_PASSWORD: cr.rootPassword! });
    expect(rt.runs[0]!.env).toEqual({ MYSQL_USER: "shop", MYSQL_DATABASE: "shop" });
  });
});

describe("spawnDatabase: what the user is told", () => {
  test("an image that is not here and cannot be pulled names the image and the config key", async () => {
    const rt = new FakeRuntime();
    rt.missingImages.add("docker.io/library/postgres:16");
    const c = ctx(rt);
    const err = await spawnDatabase(c, { engine: "postgres" }).catch((e) => e);
    expect(err.kind).toBe("provider");
    expect(err.message).toStartWith("could not start postgres: docker.io/library/postgres:16 is not available here and could not be pulled");
    expect(err.hint).toContain("databases[].image");
    expect(c.events).toContainEqual({ type: "info", message: "docker.io/library/postgres:16 is not here yet: fake pulls it first" });
    // nothing of the failed start stays: no volume, no credentials, no container
    expect([...rt.volumes.keys()]).toEqual([]);
    expect(await readCredentials(c.stateDir, "shop", "postgres")).toBeUndefined();
    expect([...rt.containers.keys()]).toEqual([]);
  });

  test("a failed start never removes a volume that was there before", async () => {
    const rt = new FakeRuntime();
    rt.missingImages.add("docker.io/library/postgres:16");
    rt.volumes.set("devx-shop-postgres-data", { name: "devx-shop-postgres-data", labels: { "devx.managed": "true", "devx.project": "shop", "devx.database": "postgres" } });
    const c = ctx(rt);
    expect((await spawnDatabase(c, { engine: "postgres" }).catch((e) => e)).kind).toBe("provider");
    expect([...rt.volumes.keys()]).toEqual(["devx-shop-postgres-data"]);
  });

  test("a busy explicit port is a conflict before any volume is created", async () => {
    const rt = new FakeRuntime();
    const c = ctx(rt, { portFree: async () => false });
    const err = await spawnDatabase(c, { engine: "redis", port: 6399, portExplicit: true }).catch((e) => e);
    expect(err.kind).toBe("conflict");
    expect(rt.calls.filter((x) => x.startsWith("createVolume"))).toEqual([]);
    expect([...rt.volumes.keys()]).toEqual([]);
  });

  test("a volume whose credentials file is gone is used, with a warning naming the way out", async () => {
    const rt = new FakeRuntime();
    rt.volumes.set("devx-shop-redis-data", { name: "devx-shop-redis-data", labels: { "devx.managed": "true", "devx.project": "shop", "devx.database": "redis" } });
    rt.execAnswers = [{ code: 0, stdout: "PONG" }];
    const c = ctx(rt);
    await spawnDatabase(c, { engine: "redis" });
    expect(rt.calls.some((x) => x.startsWith("createVolume"))).toBe(false);
    expect(c.events).toContainEqual(expect.objectContaining({ type: "warning", message: "volume devx-shop-redis-data exists but its credentials were lost: the new password may not open it", hint: "`devx db rm redis --volume` starts over with an empty database" }));
  });
});
