import { afterAll, expect, setDefaultTimeout } from "bun:test";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ensureBinary } from "../support/binary.ts";
import { podmanAvailable } from "../support/images.ts";
import { testWith } from "../support/require.ts";
import { makeEnv, type Env } from "../integration/state/fixture.ts";

/**
 * `devx state` through the compiled binary (the integration tests call runCli in-process): a db-only
 * share to a file:// relay, then attach with the share ID kept out of argv — piped on stdin with `-`
 * or given in DEVX_SHARE_ID — since it carries the passphrase.
 */
setDefaultTimeout(180_000);
const ptest = testWith("podman", podmanAvailable());
const envs: Env[] = [];
afterAll(() => {
  for (const e of envs) e.wipe();
});

function devx(env: Env, args: string[], opts: { stdin?: string; extraEnv?: Record<string, string> } = {}) {
  const r = Bun.spawnSync([ensureBinary(), ...args], {
    cwd: env.dir,
    env: { ...process.env, DEVX_HOME: env.stateDir, ...opts.extraEnv },
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

ptest("compiled binary: share --db-only, then attach with the share ID from stdin (-) and from DEVX_SHARE_ID", async () => {
  const env = makeEnv("bin");
  envs.push(env);
  env.start();
  const original = await env.snapshot();
  const relay = pathToFileURL(join(env.dir, "relay")).href;

  const shared = devx(env, ["state", "share", "--db-only", "--relay", relay, "--json"]);
  expect(shared.code).toBe(0);
  const doc = JSON.parse(shared.out) as { id: string; mode: string; databases: string[] };
  expect(doc).toMatchObject({ mode: "db-only", databases: [env.volume] });
  const passphrase = doc.id.split(":").pop()!;
  expect(shared.err).not.toContain(passphrase);

  const change = () => env.sh(["podman", "exec", env.db, "sh", "-c", "echo changed > /data/known.txt; echo new > /data/extra"]);
  change();
  const changed = await env.snapshot();
  expect(changed.volumes).not.toEqual(original.volumes);

  // stdin, dry run: the plan is printed and nothing changes
  const dry = devx(env, ["state", "attach", "--dry-run", "-"], { stdin: `\n${doc.id}\n` });
  expect({ code: dry.code, err: dry.err }).toEqual({ code: 0, err: expect.any(String) });
  expect(dry.out).toContain("nothing changed");
  expect((await env.snapshot()).volumes).toEqual(changed.volumes);

  // stdin, applied
  const piped = devx(env, ["state", "attach", "-y", "-"], { stdin: doc.id });
  expect({ code: piped.code, err: piped.err }).toEqual({ code: 0, err: expect.any(String) });
  expect((await env.snapshot()).volumes).toEqual(original.volumes);

  // environment variable, applied after another change
  change();
  const fromEnv = devx(env, ["state", "attach", "-y"], { extraEnv: { DEVX_SHARE_ID: doc.id } });
  expect({ code: fromEnv.code, err: fromEnv.err }).toEqual({ code: 0, err: expect.any(String) });
  const now = await env.snapshot();
  expect(now.volumes).toEqual(original.volumes);
  expect(now.containers).toEqual(original.containers);
  for (const r of [dry, piped, fromEnv]) expect(r.out + r.err).not.toContain(passphrase);

  // no share ID anywhere, or an empty stdin: usage errors (exit 2) with a hint, nothing touched
  const missing = devx(env, ["state", "attach", "-y"], { extraEnv: { DEVX_SHARE_ID: "" } });
  expect(missing.code).toBe(2);
  expect(missing.err).toContain("missing share ID");
  expect(missing.err).toContain("DEVX_SHARE_ID");
  const empty = devx(env, ["state", "attach", "-y", "-"], { stdin: "\n" });
  expect(empty.code).toBe(2);
  expect(empty.err).toContain("no share ID on stdin");
  expect((await env.snapshot()).volumes).toEqual(original.volumes);
});
