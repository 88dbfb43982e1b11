import { afterAll, beforeAll, expect, setDefaultTimeout } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { findProcesses } from "../../src/platform/process.ts";
import { ensureBinary } from "../support/binary.ts";
import { criuAvailable, podmanAvailable } from "../support/images.ts";
import { testWith } from "../support/require.ts";
import { counterAtLeast, makeEnv, type Env } from "../integration/state/fixture.ts";

/**
 * Crash safety on the real parts: the compiled devx is SIGKILLed at every step boundary of attach,
 * restore, undo, share and checkpoint (DEVX_TEST_KILL_AT makes it kill itself right there), and at
 * random moments. Then only devx commands run, and the machine must be as before the killed command
 * — or, where its apply had finished, as after it: never in between. No data lost (each volume's
 * content digest equals one of the two, never a torn mix), containers running as before (the
 * counter app resumed from its checkpoint, not restarted), no devx child left, no staging, FIFO,
 * journal or unfinished restore point left.
 */
setDefaultTimeout(1_800_000);
const full = testWith("criu", podmanAvailable() && criuAvailable());
let env: Env;
let bin: string;
let relay: string;
let shareId: string;
/** the two states of the project: L (this machine's) and B (the bundle's) */
let local: Awaited<ReturnType<Env["snapshot"]>>;
let bundle: Awaited<ReturnType<Env["snapshot"]>>;
const results: string[] = [];

beforeAll(async () => {
  if (!podmanAvailable() || !criuAvailable()) return;
  bin = ensureBinary();
  env = makeEnv("crash");
  env.start();
  // a volume of more than 100 MB: mostly zeros (quick to ship), with a random head
  env.sh(["podman", "exec", env.db, "sh", "-c", "head -c 104857600 /dev/zero > /data/big; head -c 65536 /dev/urandom > /data/head"]);
  await counterAtLeast(env, 3);
  relay = pathToFileURL(join(env.dir, "relay")).href;
  const shared = await env.cli(["state", "share", "--relay", relay, "--json"]);
  if (shared.code !== 0) throw new Error(shared.err);
  shareId = (JSON.parse(shared.out) as { id: string }).id;
  bundle = await env.snapshot();
  env.sh(["podman", "exec", env.db, "sh", "-c", "echo 'local work' > /data/known.txt"]);
  local = await env.snapshot();
  expect(local.volumes).not.toEqual(bundle.volumes);
});
afterAll(() => {
  env?.wipe();
  if (results.length) console.log(`crash scenarios (${results.length}):\n${results.join("\n")}`);
});

/** The compiled devx in this project, killed at `point` (or after `afterMs`); returns its exit code. */
async function killed(args: string[], opts: { point?: string; afterMs?: number }): Promise<number> {
  const environ: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, DEVX_HOME: env.stateDir, ...(opts.point ? { DEVX_TEST_KILL_AT: opts.point } : {}) })) if (v !== undefined) environ[k] = v;
  const p = Bun.spawn([bin, ...args], { cwd: env.dir, env: environ, stdout: "ignore", stderr: "pipe" });
  const timer = opts.afterMs !== undefined ? setTimeout(() => p.kill("SIGKILL"), opts.afterMs) : undefined;
  const code = await p.exited;
  clearTimeout(timer);
  return code;
}

const stateDir = () => join(env.stateDir, "state");
const ls = (d: string) => (existsSync(d) ? readdirSync(d) : []);

/** After a kill: devx alone brings the machine to `before` or `after`; returns which. */
async function recoverAndCheck(what: string, before: typeof local, after: typeof local | undefined): Promise<"before" | "after"> {
  const r = await env.cli(["state", "recover"]);
  expect(`${what}: recover exit ${r.code} ${r.err}`).toStartWith(`${what}: recover exit 0`);
  const now = await env.snapshot();
  const which = JSON.stringify(now) === JSON.stringify(before) ? "before" : after && JSON.stringify(now) === JSON.stringify(after) ? "after" : undefined;
  expect({ what, now }).toEqual({ what, now: which === "after" ? after! : before });
  // nothing of the killed devx is left running or lying around
  expect(findProcesses((a) => a.some((x) => x.includes(env.stateDir)) || (a.includes("volume") && (a.includes("export") || a.includes("import")) && a.some((x) => x.startsWith(env.project))))).toEqual([]);
  expect(ls(join(stateDir(), "journal"))).toEqual([]);
  expect(ls(join(stateDir(), "tmp")).filter((f) => /^(attach|share|export|restorable|ckpt|restore)-/.test(f))).toEqual([]);
  for (const rp of ls(join(stateDir(), "restore-points"))) expect(ls(join(stateDir(), "restore-points", rp))).toContain("note.json");
  expect(env.counter()).toBeGreaterThan(0);
  results.push(`  ${what}: ${which}`);
  return which!;
}

const ATTACH_POINTS = (app: string, db: string, vol: string) => [
  `restore-point:checkpoint:${app}`,
  `restore-point:checkpoint:${db}`,
  "restore-point:captured",
  "apply:1",
  "apply:2",
  "apply:3",
  `apply:aside:${vol}`,
  `apply:import:${vol}`,
  "apply:4",
  "apply:5",
  "apply:6",
  "applied",
];

full("attach killed at every step boundary, and at random moments: recovered to before (or after, once applied)", async () => {
  for (const point of ATTACH_POINTS(env.app, env.db, env.volume)) {
    const counter = env.counter();
    expect(await killed(["state", "attach", "-y", shareId], { point })).toBe(137);
    const which = await recoverAndCheck(`attach killed at ${point}`, local, bundle);
    if (which === "before") expect(env.counter()).toBeGreaterThanOrEqual(counter);
    if (which === "after") {
      expect(point).toBe("applied");
      const undone = await env.cli(["state", "undo", "-y"]);
      expect(undone.code).toBe(0);
      expect(await env.snapshot()).toEqual(local);
    }
  }
  for (const ms of [700, 2500, 5000, 8000]) {
    await killed(["state", "attach", "-y", shareId], { afterMs: ms });
    if ((await recoverAndCheck(`attach killed after ${ms} ms`, local, bundle)) === "after") expect((await env.cli(["state", "undo", "-y"])).code).toBe(0);
  }
});

full("undo killed at every step: recovery finishes the undo", async () => {
  for (const point of ["undo:1", "undo:3", "undo:4", "undo:6"]) {
    expect((await env.cli(["state", "attach", "-y", shareId])).code).toBe(0);
    expect(await env.snapshot()).toEqual(bundle);
    expect(await killed(["state", "undo", "-y"], { point })).toBe(137);
    expect(await recoverAndCheck(`undo killed at ${point}`, bundle, local)).toBe("after");
    expect(ls(join(stateDir(), "restore-points"))).toEqual([]);
  }
});

full("restore of a local checkpoint killed at every step: recovered to before (or after, once applied)", async () => {
  expect((await env.cli(["state", "checkpoint", "c1"])).code).toBe(0);
  const atC1 = await env.snapshot();
  env.sh(["podman", "exec", env.db, "sh", "-c", "echo 'later work' > /data/known.txt"]);
  const later = await env.snapshot();
  for (const point of ["restore-point:checkpoint:" + env.app, "apply:2", `apply:aside:${env.volume}`, `apply:import:${env.volume}`, "apply:4", "applied"]) {
    expect(await killed(["state", "restore", "-y", "c1"], { point })).toBe(137);
    if ((await recoverAndCheck(`restore killed at ${point}`, later, atC1)) === "after") expect((await env.cli(["state", "undo", "-y"])).code).toBe(0);
  }
  expect((await env.cli(["state", "rm", "-y", "c1"])).code).toBe(0);
  env.sh(["podman", "exec", env.db, "sh", "-c", "echo 'local work' > /data/known.txt"]);
  expect(await env.snapshot()).toEqual(local);
});

full("share and checkpoint killed mid-capture: nothing is left stopped, nothing half-made is left", async () => {
  for (const point of [`capture:checkpoint:${env.app}`, `capture:checkpoint:${env.db}`, `capture:volume:${env.volume}`, "capture:captured", "upload"]) {
    expect(await killed(["state", "share", "--relay", relay], { point })).toBe(137);
    await recoverAndCheck(`share killed at ${point}`, local, undefined);
  }
  for (const point of [`capture:checkpoint:${env.db}`, `capture:volume:${env.volume}`, "capture:captured"]) {
    expect(await killed(["state", "checkpoint", "c2"], { point })).toBe(137);
    await recoverAndCheck(`checkpoint killed at ${point}`, local, undefined);
    const listed = await env.cli(["state", "list", "--json"]);
    expect((JSON.parse(listed.out) as { checkpoints: unknown[] }).checkpoints).toEqual([]);
    expect(ls(join(stateDir(), "checkpoints"))).toEqual([]);
  }
});

full("doctor reports an interrupted attach, state list warns, and doctor --fix finishes it", async () => {
  expect(await killed(["state", "attach", "-y", shareId], { point: "apply:3" })).toBe(137);
  const doc = await env.cli(["doctor", "--json"]);
  const state = (JSON.parse(doc.out) as { checks: Array<{ id: string; status: string; detail?: string }> }).checks.find((c) => c.id === "state");
  expect(state?.status).toBe("fail");
  expect(state?.detail).toContain("`devx state attach` of bundle");
  expect(state?.detail).toContain("while it was applying");
  const list = await env.cli(["state", "list"]);
  expect(list.err).toContain("was interrupted while it was applying");
  const dry = await env.cli(["state", "recover", "--dry-run"]);
  expect(dry.out).toContain("would return to the restore point");
  expect(ls(join(stateDir(), "journal"))).toHaveLength(1);
  const fixed = await env.cli(["doctor", "--fix"]);
  expect(fixed.out).toContain("recovered: attach of bundle");
  expect(await env.snapshot()).toEqual(local);
  expect(ls(join(stateDir(), "journal"))).toEqual([]);
});
