import { afterAll, expect, setDefaultTimeout } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { criuAvailable, podmanAvailable } from "../../support/images.ts";
import { testWith } from "../../support/require.ts";
import { counterAtLeast, makeEnv, type Env } from "./fixture.ts";

setDefaultTimeout(180_000);
const full = testWith("criu", podmanAvailable() && criuAvailable());
const envs: Env[] = [];
afterAll(() => envs.forEach((e) => e.wipe()));

/**
 * Share, then change this host (new volume content, counter moves on), then attach with a failure
 * injected at `point`: the host must be back exactly as it was before the attach.
 */
async function failingAttach(tag: string, point: string): Promise<void> {
  const env = makeEnv(tag);
  envs.push(env);
  env.start();
  await counterAtLeast(env, 5);
  const shared = await env.cli(["state", "share", "--relay", pathToFileURL(join(env.dir, "relay")).href, "--json"]);
  expect(shared.code).toBe(0);
  const { id } = JSON.parse(shared.out) as { id: string };
  env.sh(["podman", "exec", env.db, "sh", "-c", "echo 'local work' > /data/known.txt"]);
  const local = await env.snapshot();
  const counterBefore = await counterAtLeast(env, 30);

  const seen: string[] = [];
  const r = await env.cli(["state", "attach", "-y", id], {
    faultPoint: (p) => {
      seen.push(p);
      if (p === point) throw new Error(`injected failure at ${p}`);
    },
  });
  expect(r.code).not.toBe(0);
  expect(r.err).toContain(`injected failure at ${point}`);
  expect(r.err).toContain("rolling back to the restore point");
  expect(r.err).toContain("rolled back, nothing was changed");
  expect(seen).toContain(point);
  expect(seen.some((p) => p.startsWith("rollback:"))).toBe(true);

  expect(await env.snapshot()).toEqual(local);
  expect(env.sh(["podman", "exec", env.db, "cat", "/data/known.txt"])).toBe("local work\n");
  // the app resumed from the restore point's checkpoint: its counter did not start over
  expect(env.counter()).toBeGreaterThanOrEqual(counterBefore);
  // the restore point is consumed by the rollback: undo has nothing to return to
  expect(existsSync(join(env.stateDir, "state", "restore-points")) ? readdirSync(join(env.stateDir, "state", "restore-points")) : []).toEqual([]);
}

full("a failure after the 2nd apply step (containers removed, volume not yet replaced) rolls back", async () => {
  await failingAttach("rb2", "apply:3");
});

full("a failure after a container was already restored from the bundle rolls back", async () => {
  await failingAttach("rb5", "apply:5");
});

full("Ctrl-C during the apply stops at the next step and rolls back (the rollback itself is not cancelled)", async () => {
  const env = makeEnv("rbc");
  envs.push(env);
  env.start();
  await counterAtLeast(env, 5);
  const shared = await env.cli(["state", "share", "--relay", pathToFileURL(join(env.dir, "relay")).href, "--json"]);
  const { id } = JSON.parse(shared.out) as { id: string };
  env.sh(["podman", "exec", env.db, "sh", "-c", "echo 'local work' > /data/known.txt"]);
  const local = await env.snapshot();
  const ctrlC = new AbortController();
  const r = await env.cli(["state", "attach", "-y", id], {
    signal: ctrlC.signal,
    // the user presses Ctrl-C while the first container is being removed
    faultPoint: (p) => void (p === "apply:1" && ctrlC.abort()),
  });
  expect(r.code).toBe(130);
  expect(r.err).toContain("rolled back, nothing was changed");
  expect(await env.snapshot()).toEqual(local);
});
