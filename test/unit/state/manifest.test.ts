import { expect, test } from "bun:test";
import { Readable } from "node:stream";
import { IntegrityError, NotFoundError } from "../../../src/errors.ts";
import { parseManifest, type Manifest } from "../../../src/core/state/manifest.ts";
import { dbOnly } from "../../../src/core/state/restore.ts";
import { describePlan } from "../../../src/core/state/apply.ts";
import { tarContentDigest } from "../../../src/core/state/digest.ts";
import { create } from "tar";
import { mkdtempSync, writeFileSync, mkdirSync, chmodSync } from "node:fs";
import { join } from "node:path";

const H = "a".repeat(64);
const base: Manifest = {
  formatVersion: 1,
  kind: "share",
  name: "x",
  created: "2026-11-23T10:00:00.000Z",
  mode: "full",
  host: { os: "linux", arch: "x64" },
  runtime: { name: "podman", version: "4.3.1" },
  containers: [
    { name: "api", image: "img", labels: { "devx.kind": "service" }, ports: [], volumes: [{ name: "cache", destination: "/c" }], archive: { file: "containers/api.tar.zst", size: 1, sha256: H } },
    { name: "pg", image: "postgres", labels: { "devx.kind": "database" }, ports: [], volumes: [{ name: "pgdata", destination: "/d" }], archive: { file: "containers/pg.tar.zst", size: 1, sha256: H } },
  ],
  volumes: [
    { name: "cache", labels: {}, file: "volumes/cache.tar", size: 1, sha256: H, contentDigest: H },
    { name: "pgdata", labels: {}, file: "volumes/pgdata.tar", size: 1, sha256: H, contentDigest: H },
  ],
};

test("a valid manifest round-trips; damaged ones are IntegrityErrors saying where", () => {
  expect(parseManifest(JSON.stringify(base), "b")).toEqual(base);
  expect(() => parseManifest("{", "b")).toThrow(IntegrityError);
  expect(() => parseManifest(JSON.stringify({ ...base, formatVersion: 2 }), "b")).toThrow(/newer than this devx/);
  expect(() => parseManifest(JSON.stringify({ ...base, volumes: [{ ...base.volumes[0], file: "../../etc/passwd" }] }), "b")).toThrow(/volumes\.0\.file/);
  expect(() => parseManifest(JSON.stringify({ ...base, volumes: [base.volumes[0], { ...base.volumes[1], file: "volumes/cache.tar" }] }), "b")).toThrow(/twice/);
  expect(() => parseManifest(JSON.stringify({ ...base, containers: [{ ...base.containers[0], name: "-rm" }] }), "b")).toThrow(IntegrityError);
});

test("db-only from a full bundle keeps the database volumes only (by label or by a database container's mounts)", () => {
  const m = dbOnly(base);
  expect(m.mode).toBe("db-only");
  expect(m.containers).toEqual([]);
  expect(m.volumes.map((v) => v.name)).toEqual(["pgdata"]);
  expect(() => dbOnly({ ...base, containers: [base.containers[0]!], volumes: [base.volumes[0]!] })).toThrow(NotFoundError);
});

test("the plan reads as what will happen", () => {
  expect(describePlan({ mode: "full", project: "p", replace: [{ name: "api", image: "img" }], pause: [], putBack: [], volumes: [{ name: "pgdata", exists: false, bytes: 2_500_000 }], restore: [{ name: "api", image: "img", ports: ["127.0.0.1:8080->80/tcp"] }], start: [], elevations: [], refused: [] })).toEqual([
    "  stop and replace  container api (img)",
    // one column for the action, whatever its length
    "  create            volume pgdata (2.4 MiB)",
    "  restore           container api (img) ports 127.0.0.1:8080->80/tcp",
  ]);
});

test("the content digest ignores entry order and mtimes but not content, modes or owners", async () => {
  const dir = mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "digest-"));
  mkdirSync(join(dir, "d"));
  writeFileSync(join(dir, "a"), "one");
  writeFileSync(join(dir, "d", "b"), "two");
  const digest = async (files: string[], opts: { mtime?: Date } = {}) => tarContentDigest(Readable.from(create({ cwd: dir, portable: true, mtime: opts.mtime }, files) as unknown as AsyncIterable<Buffer>));
  const d1 = await digest(["a", "d"]);
  expect(await digest(["d", "a"], { mtime: new Date(0) })).toBe(d1);
  chmodSync(join(dir, "a"), 0o600);
  const d2 = await digest(["a", "d"]);
  expect(d2).not.toBe(d1);
  writeFileSync(join(dir, "a"), "One");
  expect(await digest(["a", "d"])).not.toBe(d2);
  expect(await tarContentDigest(Readable.from([Buffer.alloc(1024)]))).toBe(await tarContentDigest(Readable.from([Buffer.alloc(10240)])));
});

test("the state lock: a live owner is a ConflictError naming it, a dead owner's lock is taken over, and it is released", async () => {
  const { withStateLock } = await import("../../../src/core/state/lock.ts");
  const { ConflictError } = await import("../../../src/errors.ts");
  const dir = mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "lock-"));
  const sleeper = Bun.spawn(["sleep", "30"]);
  writeFileSync(join(dir, "state.lock"), JSON.stringify({ pid: sleeper.pid, what: "sharing" }));
  const err = await withStateLock(dir, "attach", async () => 1).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ConflictError);
  expect((err as Error).message).toContain(`sharing, PID ${sleeper.pid}`);
  sleeper.kill();
  await sleeper.exited;
  expect(await withStateLock(dir, "attach", async () => 42)).toBe(42);
  expect(await withStateLock(dir, "again", async () => 43)).toBe(43);
});
