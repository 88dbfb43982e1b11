import { afterAll, expect, setDefaultTimeout } from "bun:test";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { systemExec } from "../../../src/platform/exec.ts";
import { PodmanRuntime } from "../../../providers/runtime/podman.ts";
import { openRelay } from "../../../providers/relay/index.ts";
import type { ContainerRuntime } from "../../../providers/runtime/types.ts";
import type { DevxEvent } from "../../../src/events/types.ts";
import { attach, share } from "../../../src/core/state/share.ts";
import type { StateDeps } from "../../../src/core/state/state-deps.ts";
import { UsageError } from "../../../src/errors.ts";
import { criuAvailable, podmanAvailable } from "../../support/images.ts";
import { testWith } from "../../support/require.ts";
import { counterAtLeast, makeEnv, type Env } from "./fixture.ts";

setDefaultTimeout(180_000);
const full = testWith("criu", podmanAvailable() && criuAvailable());
const envs: Env[] = [];
afterAll(() => envs.forEach((e) => e.wipe()));

/** podman as a runtime that cannot checkpoint (like docker or nerdctl): the same CLI, no checkpointer */
function withoutCheckpointer(rt: ContainerRuntime): ContainerRuntime {
  return new Proxy(rt, { get: (t, k) => (k === "checkpointer" ? undefined : Reflect.get(t, k)) });
}

function stateDeps(env: Env, runtime: ContainerRuntime, events: DevxEvent[]): StateDeps {
  return {
    runtime,
    stateDir: join(env.stateDir, "state"),
    emit: (e) => void events.push(e),
    now: () => new Date(),
    project: env.project,
    openRelay: async (uri) => openRelay(uri, { env: {}, exec: systemExec }),
  };
}

full("a full bundle attached where checkpoints cannot be restored: db-only is offered, and applied with a warning once confirmed", async () => {
  const env = makeEnv("nockpt");
  envs.push(env);
  env.start();
  await counterAtLeast(env, 3);
  const podman = new PodmanRuntime({ exec: systemExec, tmpDir: join(env.dir, "rt") });
  const relay = pathToFileURL(join(env.dir, "relay")).href;
  const shared = await share(stateDeps(env, podman, []), { relay, iterations: 100_000 });
  expect(shared.mode).toBe("full");
  const original = await env.snapshot();

  env.sh(["podman", "exec", env.db, "sh", "-c", "echo overwritten > /data/known.txt"]);
  env.sh(["podman", "rm", "-f", "-t", "0", env.app]);
  const changed = await env.snapshot();
  const events: DevxEvent[] = [];
  const sd = stateDeps(env, withoutCheckpointer(podman), events);

  // no terminal and no -y: the offer itself is the usage error, nothing is touched
  const refuse = async (q: string) => {
    throw new UsageError(`${q}: confirmation needed but there is no terminal`, "pass -y/--yes to confirm without a prompt");
  };
  await expect(attach(sd, { shareId: shared.id, dryRun: false, confirm: refuse })).rejects.toThrow(/Apply the database volumes only/);
  expect(await env.snapshot()).toEqual(changed);

  const asked: string[] = [];
  const r = await attach(sd, { shareId: shared.id, dryRun: false, confirm: async (q) => void asked.push(q) });
  expect(asked[0]).toBe("Apply the database volumes only?");
  expect(r.mode).toBe("db-only");
  expect(events.some((e) => e.type === "warning" && e.message.includes("cannot restore them"))).toBe(true);
  const now = await env.snapshot();
  expect(now.volumes).toEqual(original.volumes);
  // the app container is not recreated in db-only mode; the database runs again
  expect(now.containers).toEqual(changed.containers);
});

full("sharing from a runtime without a checkpointer falls back to db-only with a clear warning", async () => {
  const env = makeEnv("nockpt2");
  envs.push(env);
  env.start();
  const events: DevxEvent[] = [];
  const sd = stateDeps(env, withoutCheckpointer(new PodmanRuntime({ exec: systemExec, tmpDir: join(env.dir, "rt") })), events);
  const r = await share(sd, { relay: pathToFileURL(join(env.dir, "relay")).href, iterations: 100_000 });
  expect(r).toMatchObject({ mode: "db-only", containers: [], databases: [env.volume] });
  expect(events.find((e) => e.type === "warning")).toMatchObject({ message: expect.stringContaining("db-only") });
});
