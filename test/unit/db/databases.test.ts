import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import type { DbContext } from "../../../src/core/db/db-context.ts";
import { spawnDatabase } from "../../../src/core/db/spawn.ts";
import { credentialsFile } from "../../../src/core/db/credentials.ts";
import { ENGINE_SPECS, identifier } from "../../../src/core/db/engines.ts";
import { databaseEnvFor, envOf, findDatabase, listDatabases, maskUrl, planRemove, removeDatabase, requireDatabase, restartDatabase } from "../../../src/core/db/databases.ts";
import { FakeRuntime } from "./fake-runtime.ts";

function ctx(rt: FakeRuntime, over: Partial<DbContext> = {}): DbContext {
  return { runtime: rt, project: "shop", stateDir: mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "state-")), emit: () => {}, signal: new AbortController().signal, configured: [], portFree: async () => true, pollMs: 1, ...over };
}

const ok = (stdout: string) => () => ({ code: 0, stdout });
const answerAll = (n: number) => Array.from({ length: n }, () => (_: string, cmd: string[]) => ({ code: 0, stdout: cmd.join(" ").includes("redis-cli") ? "PONG" : cmd[0] === "pg_isready" ? "" : "1\n" }));

async function world() {
  const rt = new FakeRuntime();
  rt.execAnswers = answerAll(20);
  const c = ctx(rt, { configured: [{ engine: "redis", name: "cache" }, { engine: "postgres" }] });
  await spawnDatabase(c, { engine: "postgres" });
  await spawnDatabase(c, { name: "cache" });
  // another project's database must never show up
  await spawnDatabase({ ...c, project: "other", configured: [] }, { engine: "redis" });
  return { rt, c };
}

describe("listing and finding (from runtime labels)", () => {
  test("ls lists this project's databases with URLs from the stored credentials", async () => {
    const { c } = await world();
    const dbs = await listDatabases(c);
    expect(dbs.map((d) => [d.name, d.engine, d.state, d.port, d.volume])).toEqual([
      ["postgres", "postgres", "running", 5432, "devx-shop-postgres-data"],
      ["cache", "redis", "running", 6379, "devx-shop-cache-data"],
    ]);
    expect(dbs[1]!.url).toMatch(/^redis:\/\/:[A-Za-z0-9_-]{32}@127\.0\.0\.1:6379\/0$/);
    expect((await listDatabases(c, { allProjects: true })).map((d) => d.container).sort()).toEqual(["devx-other-redis", "devx-shop-cache", "devx-shop-postgres"]);
  });

  test("find by name, then by engine; unknown is NotFound with a spawn hint", async () => {
    const { c } = await world();
    expect((await findDatabase(c, "redis"))?.name).toBe("cache");
    expect((await findDatabase(c, "cache"))?.engine).toBe("redis");
    const err = await requireDatabase(c, "mysql").catch((e) => e);
    expect(err.kind).toBe("not-found");
    expect(err.hint).toContain("devx db spawn mysql");
  });

  test("two databases of one engine: the engine alone is ambiguous", async () => {
    const { c } = await world();
    await spawnDatabase(c, { engine: "redis", name: "sessions", port: 6400 });
    const err = await findDatabase(c, "redis").catch((e) => e);
    expect(err.kind).toBe("usage");
    expect(err.message).toBe("2 redis databases: cache, sessions");
  });
});

describe("env for up, shell and run", () => {
  test("<NAME>_URL/_HOST/_PORT for each, DATABASE_URL for the first in devx.yaml order, PG* for postgres", async () => {
    const { c } = await world();
    const env = await databaseEnvFor(c);
    const dbs = await listDatabases(c);
    const pg = dbs.find((d) => d.engine === "postgres")!;
    const cache = dbs.find((d) => d.name === "cache")!;
    expect(env.DATABASE_URL).toBe(cache.url!); // cache comes first in devx.yaml
    expect(env.POSTGRES_URL).toBe(pg.url!);
    expect(env.CACHE_URL).toBe(cache.url!);
    expect(env).toMatchObject({ POSTGRES_HOST: "127.0.0.1", POSTGRES_PORT: "5432", CACHE_PORT: "6379", PGHOST: "127.0.0.1", PGPORT: "5432", PGUSER: "shop", PGDATABASE: "shop" });
    expect(env.PGPASSWORD).toBe(new URL(pg.url!).password);
    expect(env.REDIS_URL).toBeUndefined(); // the other project's redis
  });

  test("without devx.yaml the oldest is DATABASE_URL; stopped databases contribute nothing", async () => {
    const { rt, c } = await world();
    const env = envOf(await listDatabases(c));
    expect(env.DATABASE_URL).toBe(env.POSTGRES_URL!);
    rt.containers.get("devx-shop-postgres")!.state = "exited";
    const after = envOf(await listDatabases(c));
    expect(after.POSTGRES_URL).toBeUndefined();
    expect(after.PGHOST).toBeUndefined();
    expect(after.DATABASE_URL).toBe(after.CACHE_URL!);
  });
});

describe("rm and restart", () => {
  test("rm keeps the volume and credentials; rm --volume deletes both, even after the container is gone", async () => {
    const { rt, c } = await world();
    const plan = await planRemove(c, "postgres", {});
    expect(plan).toEqual({ name: "postgres", container: "devx-shop-postgres", volume: undefined, credentials: false });
    await removeDatabase(c, plan);
    expect(rt.containers.has("devx-shop-postgres")).toBe(false);
    expect(rt.volumes.has("devx-shop-postgres-data")).toBe(true);
    expect(existsSync(credentialsFile(c.stateDir, "shop", "postgres"))).toBe(true);

    const plan2 = await planRemove(c, "postgres", { volume: true });
    expect(plan2).toEqual({ name: "postgres", volume: "devx-shop-postgres-data", credentials: true });
    await removeDatabase(c, plan2);
    expect(rt.volumes.has("devx-shop-postgres-data")).toBe(false);
    expect(existsSync(credentialsFile(c.stateDir, "shop", "postgres"))).toBe(false);
    expect((await planRemove(c, "postgres", { volume: true }).catch((e) => e)).kind).toBe("not-found");
  });

  test("restart stops, starts and waits for the probes again", async () => {
    const { rt, c } = await world();
    rt.execAnswers = [{ code: 1, stderr: "Could not connect" }, ok("PONG")];
    const db = await restartDatabase(c, "cache");
    expect(db.state).toBe("running");
    expect(rt.calls.slice(-8).filter((x) => /^(stop|start|exec)/.test(x))).toEqual(["stop devx-shop-cache", "start devx-shop-cache", "exec devx-shop-cache sh", "exec devx-shop-cache sh"]);
  });
});

describe("names and URLs", () => {
  test("SQL identifiers", () => {
    expect(identifier("my-shop")).toBe("my_shop");
    expect(identifier("1st")).toBe("app_1st");
    expect(identifier("postgres")).toBe("postgres_app");
    expect(identifier("x".repeat(80))).toHaveLength(32);
  });

  test("URLs encode credentials; masking hides only the password", () => {
    const cr = { user: "a b", password: "p/w@x", database: "d" };
    expect(ENGINE_SPECS.postgres.url(cr, "127.0.0.1", 1)).toBe("postgres://a%20b:p%2Fw%40x@127.0.0.1:1/d");
    expect(ENGINE_SPECS.mongo.url(cr, "127.0.0.1", 2)).toBe("mongodb://a%20b:p%2Fw%40x@127.0.0.1:2/d?authSource=admin");
    expect(maskUrl("postgres://u:secret@127.0.0.1:5432/d")).toBe("postgres://u:****@127.0.0.1:5432/d");
    expect(maskUrl("redis://:secret@127.0.0.1:6379/0")).toBe("redis://:****@127.0.0.1:6379/0");
  });
});

test("ls shows a kept volume whose container was removed", async () => {
  const { c } = await world();
  await removeDatabase(c, await planRemove(c, "cache", {}));
  const dbs = await listDatabases(c, { volumes: true });
  expect(dbs.map((d) => [d.name, d.state, d.volume])).toEqual([
    ["postgres", "running", "devx-shop-postgres-data"],
    ["cache", "volume only", "devx-shop-cache-data"],
  ]);
  expect((await listDatabases(c)).map((d) => d.name)).toEqual(["postgres"]);
});

test("databaseEnv without any container runtime: no env, and a warning only when devx.yaml declares databases", async () => {
  const { createDeps } = await import("../../../src/cli/deps.ts");
  const { memoryIO } = await import("../../../src/cli/io.ts");
  const { ExecStub } = await import("../../support/exec-stub.ts");
  const { databaseEnv } = await import("../../../src/core/db/databases.ts");
  const { writeFileSync } = await import("node:fs");
  const dir = mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "proj-"));
  const events: unknown[] = [];
  const mk = () => createDeps({ json: false, yes: false, dryRun: false, debug: false, noColor: true, help: false }, { cwd: dir, io: memoryIO(), exec: new ExecStub([]), env: {}, emit: (e) => events.push(e) });
  expect(await databaseEnv(mk())).toEqual({});
  expect(events).toEqual([]);
  writeFileSync(join(dir, "devx.yaml"), "name: shop\ndatabases:\n  - engine: postgres\n");
  expect(await databaseEnv(mk())).toEqual({});
  expect(events).toEqual([expect.objectContaining({ type: "warning", message: "no database env: no container runtime found (podman, docker or nerdctl)" })]);
});
