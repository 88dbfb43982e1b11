import { afterAll, expect, setDefaultTimeout } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { criuAvailable, podmanAvailable } from "../../support/images.ts";
import { testWith } from "../../support/require.ts";
import { counterAtLeast, makeEnv, type Env } from "./fixture.ts";

setDefaultTimeout(180_000);
const hasPodman = podmanAvailable();
const full = testWith("criu", hasPodman && criuAvailable());
const ptest = testWith("podman", hasPodman);
const envs: Env[] = [];
afterAll(() => envs.forEach((e) => e.wipe()));

full("state checkpoint → change → state restore -y brings memory and volumes back; list, undo and rm", async () => {
  const env = makeEnv("ck");
  envs.push(env);
  env.start();
  await counterAtLeast(env, 10);
  const made = await env.cli(["state", "checkpoint", "before", "--json"]);
  expect(made.code).toBe(0);
  const atCheckpoint = await env.snapshot();
  expect(JSON.parse(made.out)).toMatchObject({ name: "before", mode: "full", containers: [env.app, env.db], volumes: [env.volume] });
  // the environment keeps running after a checkpoint
  expect(atCheckpoint.containers.every((c) => c.includes(":running:"))).toBe(true);
  expect((await env.cli(["state", "checkpoint", "before"])).code).toBe(5);

  env.sh(["podman", "exec", env.db, "sh", "-c", "echo later > /data/known.txt"]);
  const later = await env.snapshot();
  const list = await env.cli(["state", "list", "--json"]);
  expect((JSON.parse(list.out) as { checkpoints: Array<{ name: string }> }).checkpoints.map((c) => c.name)).toEqual(["before"]);

  expect((await env.cli(["state", "restore", "before", "-y"])).code).toBe(0);
  expect((await env.snapshot()).volumes).toEqual(atCheckpoint.volumes);
  expect(env.counter()).toBeGreaterThanOrEqual(10);
  // undo returns to the state just before the restore
  expect((await env.cli(["state", "undo", "-y"])).code).toBe(0);
  expect(await env.snapshot()).toEqual(later);
  expect((await env.cli(["state", "undo", "-y"])).code).toBe(4);

  expect((await env.cli(["state", "rm", "before"])).code).toBe(2);
  expect((await env.cli(["state", "rm", "before", "-y"])).code).toBe(0);
  expect((await env.cli(["state", "restore", "before", "-y"])).code).toBe(4);
});

ptest("db snapshot create|list|restore|rm: only database volumes, the database restarted around them", async () => {
  const env = makeEnv("dbs");
  envs.push(env);
  env.start();
  const created = await env.cli(["db", "snapshot", "create", "seed", "--json"]);
  expect(created.code).toBe(0);
  expect(JSON.parse(created.out)).toMatchObject({ name: "seed", mode: "db-only", containers: [], volumes: [env.volume] });
  const original = await env.snapshot();
  env.sh(["podman", "exec", env.db, "sh", "-c", "rm -rf /data/*"]);
  const dry = await env.cli(["db", "snapshot", "restore", "seed", "--dry-run"]);
  expect(dry.out).toContain(`stop              container ${env.db}`);
  expect(dry.out).not.toContain(env.app);
  const restored = await env.cli(["db", "snapshot", "restore", "seed", "-y"]);
  expect(restored.err).toContain("take a restore point");
  expect(restored.code).toBe(0);
  expect(await env.snapshot()).toEqual(original);
  expect((await env.cli(["db", "snapshot", "list"])).out).toContain("seed");

  // --force over an existing snapshot that fails midway leaves the old one whole, and nothing beside it
  const root = join(env.stateDir, "state", "db-snapshots");
  const manifestBefore = readFileSync(join(root, "seed", "manifest.json"), "utf8");
  env.sh(["podman", "exec", env.db, "sh", "-c", "echo newer > /data/known.txt"]);
  const failed = await env.cli(["db", "snapshot", "create", "seed", "--force"], { faultPoint: (p) => { if (p.startsWith("capture:volume:")) throw new Error("injected: disk full"); } });
  expect(failed.code).not.toBe(0);
  expect(failed.err).toContain("injected: disk full");
  expect(readFileSync(join(root, "seed", "manifest.json"), "utf8")).toBe(manifestBefore);
  expect(readdirSync(root)).toEqual(["seed"]);
  expect((await env.snapshot()).containers.every((c) => c.includes(":running:"))).toBe(true);
  // and one that succeeds replaces it
  expect((await env.cli(["db", "snapshot", "create", "seed", "--force"])).code).toBe(0);
  expect(readFileSync(join(root, "seed", "manifest.json"), "utf8")).not.toBe(manifestBefore);
  expect(readdirSync(root)).toEqual(["seed"]);
  expect((await env.cli(["db", "snapshot", "rm", "seed", "-y"])).code).toBe(0);
  expect((await env.cli(["db", "snapshot", "list"])).out).toContain("no database snapshots");
});
