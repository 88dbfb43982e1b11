import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, ConfigErrors } from "../../../src/config/load.ts";
import { ConfigError } from "../../../src/errors.ts";
import { main } from "../../../src/cli/main.ts";
import { memoryIO } from "../../../src/cli/io.ts";
import { MAX_CONFIG_BYTES } from "../../../src/config/read.ts";

/**
 * include: in a cloned repo's devx.yaml is hostile input: it may only read regular files inside
 * the project (or a directory the user allowed in their own config), never block, never read
 * without bound, and every refusal is a config error at the include entry.
 */
const root = mkdtempSync(join(tmpdir(), "devx-include-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function project(files: Record<string, string>): string {
  const dir = join(root, `p${n++}`, "repo");
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

async function refusal(dir: string, opts: { includeAllow?: string[] } = {}): Promise<ConfigErrors> {
  const e = await loadConfig(join(dir, "devx.yaml"), { cwd: dir, ...opts }).then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(ConfigErrors);
  return e as ConfigErrors;
}

describe("include: reads only regular files inside the project", () => {
  test("../ up to /dev/zero is refused at the entry, without reading it (exit 3 through the CLI)", async () => {
    const dir = project({ "devx.yaml": "name: x\ninclude: [\"../../../../../../../../dev/zero\"]\n" });
    const e = await refusal(dir);
    expect(e.problems).toEqual(['devx.yaml:2:11 include[0]: "../../../../../../../../dev/zero" resolves to /dev/zero, outside the project and include_allow']);
    expect(e.hint).toContain("include_allow");
    const io = memoryIO();
    expect(await main(["config", "validate"], { io, cwd: dir })).toBe(3);
    expect(io.stderr()).toContain("devx.yaml:2:11 include[0]:");
  });

  test("a symlink inside the project that leads out of it is refused; one that stays inside is followed", async () => {
    const dir = project({ "devx.yaml": "include:\n  - shared/ok.yaml\n  - shared/out.yaml\n", "real/ok.yaml": "env: { A: '1' }\n", "shared/.keep": "" });
    symlinkSync(join(dir, "real", "ok.yaml"), join(dir, "shared", "ok.yaml"));
    writeFileSync(join(dir, "..", "secret.yaml"), "env: { LEAK: '1' }\n");
    symlinkSync(join(dir, "..", "secret.yaml"), join(dir, "shared", "out.yaml"));
    expect((await refusal(dir)).problems).toEqual([`devx.yaml:3:5 include[1]: "shared/out.yaml" resolves to ${join(dir, "..", "secret.yaml")}, outside the project and include_allow`]);
    writeFileSync(join(dir, "devx.yaml"), "include: [shared/ok.yaml]\n");
    expect((await loadConfig(join(dir, "devx.yaml"), { cwd: dir })).config.env).toEqual({ A: "1" });
  });

  test("a FIFO is refused at once (it would block forever), a directory too", async () => {
    const dir = project({ "devx.yaml": "include: [pipe.yaml, sub]\n", "sub/.keep": "" });
    expect(Bun.spawnSync(["mkfifo", join(dir, "pipe.yaml")]).exitCode).toBe(0);
    expect((await refusal(dir)).problems).toEqual(['devx.yaml:1:11 include[0]: "pipe.yaml" is a FIFO (named pipe), not a regular file']);
    writeFileSync(join(dir, "devx.yaml"), "include: [sub]\n");
    expect((await refusal(dir)).problems).toEqual(['devx.yaml:1:11 include[0]: "sub" is a directory, not a regular file']);
  });

  test("the root devx.yaml itself must be a regular file (-f a FIFO does not block)", async () => {
    const dir = project({});
    expect(Bun.spawnSync(["mkfifo", join(dir, "devx.yaml")]).exitCode).toBe(0);
    const e = await loadConfig(join(dir, "devx.yaml"), { cwd: dir }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as Error).message).toBe('"devx.yaml" is a FIFO (named pipe), not a regular file');
  });

  test("absolute paths and ../ escapes are refused unless the user's include_allow lists the directory", async () => {
    const dir = project({ "devx.yaml": "include: [../team/base.yaml]\n" });
    const team = join(dir, "..", "team");
    mkdirSync(team);
    writeFileSync(join(team, "base.yaml"), "env: { TEAM: '1' }\n");
    expect((await refusal(dir)).problems[0]).toStartWith('devx.yaml:1:11 include[0]: "../team/base.yaml" resolves to');
    expect((await loadConfig(join(dir, "devx.yaml"), { cwd: dir, includeAllow: [team] })).config.env).toEqual({ TEAM: "1" });
    writeFileSync(join(dir, "devx.yaml"), `include: [${join(team, "base.yaml")}]\n`);
    expect((await refusal(dir)).problems[0]).toContain("outside the project and include_allow");
    expect((await loadConfig(join(dir, "devx.yaml"), { cwd: dir, includeAllow: [team] })).config.env).toEqual({ TEAM: "1" });
  });

  test("the allow-list comes from the user config (~ expanded), never from the repo's devx.yaml", async () => {
    const dir = project({ "devx.yaml": "include: [../team/base.yaml]\n" });
    const team = join(dir, "..", "team");
    mkdirSync(team);
    writeFileSync(join(team, "base.yaml"), "env: { TEAM: '1' }\n");
    const home = join(dir, "..", "home");
    mkdirSync(join(home, ".config", "devx"), { recursive: true });
    const env = { HOME: home, XDG_CONFIG_HOME: join(home, ".config"), DEVX_HOME: undefined, PATH: process.env.PATH };
    const denied = memoryIO();
    expect(await main(["config", "validate"], { io: denied, cwd: dir, env })).toBe(3);
    symlinkSync(team, join(home, "team"));
    writeFileSync(join(home, ".config", "devx", "config.yaml"), "include_allow: [~/team]\n");
    const allowed = memoryIO();
    expect(await main(["config", "validate"], { io: allowed, cwd: dir, env })).toBe(0);
    const repo = project({ "devx.yaml": "include_allow: [/]\ninclude: [../../../etc/hostname]\n" });
    const io = memoryIO();
    expect(await main(["config", "validate"], { io, cwd: repo })).toBe(3);
    expect(io.stderr()).toContain('devx.yaml:1:1 include_allow: unknown key "include_allow"');
  });

  test("a file over the size cap is refused before it is read", async () => {
    const dir = project({ "devx.yaml": "include: [big.yaml]\n", "big.yaml": `# ${"x".repeat(MAX_CONFIG_BYTES)}\n` });
    expect((await refusal(dir)).problems).toEqual([`devx.yaml:1:11 include[0]: "big.yaml" is larger than 1 MiB (${MAX_CONFIG_BYTES + 3} bytes or more)`]);
  });

  test("the same file included over and over stops at the file count", async () => {
    const dir = project({ "devx.yaml": `include: [${Array.from({ length: 100 }, () => "a.yaml").join(", ")}]\n`, "a.yaml": "env: { A: '1' }\n" });
    expect((await refusal(dir)).problems[0]).toMatch(/^devx\.yaml:1:\d+ include\[63\]: more than 64 files included in all$/);
  });
});
