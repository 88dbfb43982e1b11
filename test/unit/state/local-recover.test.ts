import { expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { listLocal } from "../../../src/core/state/local.ts";
import type { Manifest } from "../../../src/core/state/manifest.ts";
import { pidAlive } from "../../../src/platform/atomic.ts";

const manifest = (name: string, created: string): Manifest => ({
  formatVersion: 1, kind: "checkpoint", name, created, mode: "db-only", host: { os: "linux", arch: "x64" }, runtime: { name: "podman", version: "4.3.1" }, containers: [], volumes: [],
});

test("after a devx killed between the swaps of a --force capture, listing puts each snapshot back under its name", async () => {
  const stateDir = mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "recover-"));
  const root = join(stateDir, "checkpoints");
  let dead = 4_194_000;
  while (pidAlive(dead)) dead++;
  const put = (entry: string, m?: Manifest) => {
    mkdirSync(join(root, entry), { recursive: true });
    if (m) writeFileSync(join(root, entry, "manifest.json"), JSON.stringify(m));
  };
  put(`.a.new-${dead}`, manifest("a", "2026-11-23T10:00:00.000Z")); // finished successor, name free
  put(`.b.old-${dead}`, manifest("b", "2026-11-23T09:00:00.000Z")); // the one being replaced, name free
  put(`.c.new-${dead}`); // an unfinished capture
  put("d", manifest("d", "2026-11-23T08:00:00.000Z"));
  put(`.d.new-${dead}`, manifest("d", "2026-11-23T11:00:00.000Z")); // the name is taken: dropped
  put(`.e.new-${process.pid}`, manifest("e", "2026-11-23T12:00:00.000Z")); // a capture still running: untouched
  const listed = await listLocal(stateDir, "checkpoint");
  expect(listed.map((s) => s.name).sort()).toEqual(["a", "b", "d"]);
  expect(readdirSync(root).sort()).toEqual([`.e.new-${process.pid}`, "a", "b", "d"]);
  expect(JSON.parse(readFileSync(join(root, "d", "manifest.json"), "utf8")).created).toBe("2026-11-23T08:00:00.000Z");
  expect(existsSync(join(root, `.c.new-${dead}`))).toBe(false);
});
