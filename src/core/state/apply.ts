import { createReadStream } from "node:fs";
import { formatBytes } from "../../events/format.ts";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gcPace } from "../../platform/gc-pace.ts";
import type { ContainerInfo, VolumeInfo } from "../../../providers/runtime/types.ts";
import { CancelledError, ConflictError, ProviderError, UnhealthyError, messageOf } from "../../errors.ts";
import { LABEL } from "../labels.ts";
import type { StateDeps } from "./context.ts";
import { tarContentDigest } from "./digest.ts";
import type { Manifest } from "./manifest.ts";

/**
 * What applying a snapshot does to this host, computed before anything changes. The same structure
 * is printed by --dry-run, shown before the confirmation, and executed.
 */
export interface Plan {
  mode: Manifest["mode"];
  /** running containers removed and replaced (their state is in the restore point) */
  replace: Array<{ name: string; image: string }>;
  /** running containers stopped while their volumes are replaced, then started again */
  pause: Array<{ name: string; image: string }>;
  /** volumes whose content is replaced (or created) */
  volumes: Array<{ name: string; exists: boolean; bytes: number; emptyWith?: string }>;
  /** containers restored from the snapshot's checkpoints */
  restore: Array<{ name: string; image: string; ports: string[] }>;
  /** containers recorded without a checkpoint that exist here and are started at the end */
  start: string[];
}

/** Every container (running or not) and volume on this host: what a plan is computed from. */
export interface World {
  containers: ContainerInfo[];
  volumes: VolumeInfo[];
}

/**
 * `for` the snapshot about to be planned: one that holds no volumes plans nothing of this host's
 * volumes, so they are not listed (a podman process, ~45 ms of CPU, on every such restore).
 */
export async function listWorld(sd: Pick<StateDeps, "runtime">, opts: { for?: Manifest } = {}): Promise<World> {
  const needVolumes = !opts.for || opts.for.volumes.length > 0;
  const [containers, volumes] = await Promise.all([sd.runtime.listContainers({ all: true }), needVolumes ? sd.runtime.listVolumes() : []]);
  return { containers, volumes };
}

const inScope = (sd: StateDeps, c: ContainerInfo) => c.labels[LABEL.managed] === "true" && (!sd.project || c.labels[LABEL.project] === sd.project);

/**
 * Plan applying `m` here. `strict` (the first apply of an attach or restore) refuses, before
 * anything changes, what could only be resolved by destroying state no restore point can bring
 * back: a stopped container in the way of a restored one, a missing image.
 */
export async function planApply(sd: StateDeps, m: Manifest, opts: { strict: boolean; alsoRemove?: string[]; world?: Promise<World> }): Promise<Plan> {
  const rt = sd.runtime;
  const restoring = m.containers.filter((c) => c.archive);
  const world = await (opts.world ?? listWorld(sd));
  const all = world.containers;
  const localVolumes = new Set(world.volumes.map((v) => v.name));
  const restoreNames = new Set(restoring.map((c) => c.name));
  const volumeNames = new Set(m.volumes.map((v) => v.name));
  const alsoRemove = new Set(opts.alsoRemove ?? []);
  const running = (c: ContainerInfo) => c.state === "running";

  const replace = all.filter((c) => (m.mode === "full" && running(c) && inScope(sd, c)) || restoreNames.has(c.name) || alsoRemove.has(c.name));
  if (opts.strict) {
    const blocked = replace.filter((c) => !running(c) && !alsoRemove.has(c.name));
    if (blocked.length > 0) {
      throw new ConflictError(`container ${blocked.map((c) => c.name).join(", ")} exists here (${blocked[0]!.state}) and would be replaced`, `remove it first (\`${rt.displayName} rm ${blocked[0]!.name}\`) if you do not need it`);
    }
    // an image some container here was created from is here (podman and docker remove an image's
    // containers with it): only the others cost a CLI start (~50 ms with podman) to look up
    const used = new Set(all.map((c) => c.image));
    const present = await Promise.all(restoring.map((c) => used.has(c.image) || rt.imageExists(c.image)));
    for (const [i, c] of restoring.entries()) {
      if (!present[i]) throw new ProviderError(`image ${c.image} (for ${c.name}) is not on this machine; a checkpoint restores only onto its own image`, `build or pull ${c.image} here, or attach with --db-only`);
    }
  }
  const replaced = new Set(replace.map((c) => c.name));
  const pause = all.filter((c) => running(c) && !replaced.has(c.name) && c.volumes.some((v) => volumeNames.has(v.name)));
  const holders = all.filter((c) => !replaced.has(c.name));
  const start = m.containers.filter((c) => !c.archive && all.some((x) => x.name === c.name)).map((c) => c.name);
  return {
    mode: m.mode,
    replace: replace.map((c) => ({ name: c.name, image: c.image })),
    pause: pause.map((c) => ({ name: c.name, image: c.image })),
    volumes: m.volumes.map((v) => ({
      name: v.name,
      exists: localVolumes.has(v.name),
      bytes: v.size,
      // a container that stays (stopped) keeps a reference: the volume is emptied in place with its image
      emptyWith: holders.find((c) => c.volumes.some((x) => x.name === v.name))?.image,
    })),
    restore: restoring.map((c) => ({ name: c.name, image: c.image, ports: c.ports.map((p) => `${p.hostIp}:${p.hostPort}->${p.containerPort}/${p.protocol}`) })),
    start: [...new Set([...pause.map((c) => c.name), ...start])],
  };
}

/** Passes chunks through, pacing the collector (see gcPace): each read allocates a new chunk. */
async function* paced(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  for await (const c of src) {
    gcPace(c.length);
    yield c;
  }
}

/** Human lines for a plan (the confirmation screen and --dry-run). */
/** One line of a plan: the action in a column as wide as the widest one, then what it acts on. */
export const planLine = (action: string, what: string) => `  ${action.padEnd(16)}  ${what}`;

export function describePlan(p: Plan): string[] {
  const lines: string[] = [];
  for (const c of p.replace) lines.push(planLine("stop and replace", `container ${c.name} (${c.image})`));
  for (const c of p.pause) lines.push(planLine("stop", `container ${c.name} while its volumes are replaced`));
  for (const v of p.volumes) lines.push(planLine(v.exists ? "replace" : "create", `volume ${v.name} (${formatBytes(v.bytes)})`));
  for (const c of p.restore) lines.push(planLine("restore", `container ${c.name} (${c.image})${c.ports.length ? ` ports ${c.ports.join(", ")}` : ""}`));
  for (const n of p.start) lines.push(planLine("start", `container ${n}`));
  if (lines.length === 0) lines.push("  nothing to change");
  return lines;
}

/**
 * Apply a snapshot from `dir` following `plan`, then verify: restored and started containers are
 * running and every volume's content digest matches the manifest. `faultPrefix` names the steps
 * for failure injection ("apply", "rollback").
 */
export async function applySnapshot(sd: StateDeps, dir: string, m: Manifest, plan: Plan, faultPrefix: string): Promise<void> {
  const rt = sd.runtime;
  let step = 0;
  const run = async (title: string, fn: () => Promise<unknown>) => {
    step++;
    const id = `${faultPrefix}:${step}`;
    sd.emit({ type: "step", id, title, status: "started" });
    try {
      // Ctrl-C between steps fails the step, so the caller's rollback runs instead of leaving half a plan
      if (sd.signal?.aborted) throw new CancelledError("cancelled", "the restore point is applied back automatically");
      await sd.fault?.(id);
      await fn();
    } catch (e) {
      sd.emit({ type: "step", id, title, status: "failed", detail: messageOf(e) });
      throw e;
    }
    sd.emit({ type: "step", id, title, status: "done" });
  };
  for (const c of plan.replace) await run(`remove container ${c.name}`, () => rt.remove(c.name, { force: true }));
  for (const c of plan.pause) await run(`stop container ${c.name}`, async () => (await rt.inspectContainer(c.name))?.state === "running" && rt.stop(c.name));
  for (const v of m.volumes) {
    const p = plan.volumes.find((x) => x.name === v.name);
    await run(`${p?.exists ? "replace" : "create"} volume ${v.name}`, async () => {
      if (!(await rt.listVolumes()).some((x) => x.name === v.name)) await rt.createVolume(v.name, v.labels);
      await rt.importVolume(v.name, Readable.from(paced(createReadStream(join(dir, v.file), { highWaterMark: 1 << 20 })), { objectMode: false }), { emptyWith: p?.emptyWith });
      // checked before any container runs again: a live database would change the content under us
      const digest = await tarContentDigest(rt.exportVolume(v.name));
      if (digest !== v.contentDigest) throw new UnhealthyError(`volume ${v.name} does not hold the snapshot's content after the import`, "check free disk space and the runtime's logs");
    });
  }
  for (const c of m.containers) {
    if (!c.archive || !rt.checkpointer) continue;
    const archive = join(dir, c.archive.file);
    const ck = rt.checkpointer;
    await run(`restore container ${c.name}`, () => (ck.restoreFromFile ? ck.restoreFromFile(archive) : ck.restore(createReadStream(archive, { highWaterMark: 1 << 20 }), {})));
  }
  for (const n of plan.start) await run(`start container ${n}`, async () => (await rt.inspectContainer(n))?.state !== "running" && rt.start(n));
  await run("verify containers are running", async () => {
    for (const name of [...plan.restore.map((c) => c.name), ...plan.start]) {
      const c = await rt.inspectContainer(name);
      if (c?.state !== "running") throw new UnhealthyError(`container ${name} is ${c?.state ?? "missing"} after the restore`, `see \`${rt.displayName} logs ${name}\``);
    }
  });
}
