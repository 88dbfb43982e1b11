import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { formatBytes } from "../../events/format.ts";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gcPace } from "../../platform/gc-pace.ts";
import type { ContainerInfo, VolumeInfo } from "../../../providers/runtime/types.ts";
import { CancelledError, ConflictError, ProviderError, UnhealthyError, messageOf } from "../../errors.ts";
import { LABEL } from "../labels.ts";
import { dirs, type StateDeps } from "./state-deps.ts";
import type { Elevation } from "./guard/allow.ts";
import type { ContainerEntry, Manifest, VolumeEntry } from "./manifest.ts";
import { canSetAside } from "./volume-aside.ts";

/**
 * What applying a snapshot does to this host, computed before anything changes. The same structure
 * is printed by --dry-run, shown before the confirmation, and executed.
 */
export interface Plan {
  mode: Manifest["mode"];
  /** the project whose containers and volumes the plan may touch (always this directory's) */
  project: string;
  /** running containers removed and replaced (their state is in the restore point) */
  replace: Array<{ name: string; image: string }>;
  /** running containers stopped while their volumes are replaced, then started again */
  pause: Array<{ name: string; image: string }>;
  /**
   * volumes whose content is replaced (or created); `aside`: the current content is moved into
   * the restore point (instant, exact) rather than exported
   */
  volumes: Array<{ name: string; exists: boolean; bytes: number; emptyWith?: string; aside?: boolean }>;
  /** volumes whose set-aside content comes back (undo, rollback) */
  putBack: string[];
  /** containers restored from the snapshot's checkpoints */
  restore: Array<{ name: string; image: string; ports: string[] }>;
  /** containers recorded without a checkpoint that exist here and are started at the end */
  start: string[];
  /** what a shared bundle asks for beyond its own containers and volumes (see guard/allow.ts) */
  elevations: Elevation[];
  /** the elevations the user did not allow: a plan with any is refused */
  refused: Elevation[];
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
export async function listWorld(sd: Pick<StateDeps, "runtime">, opts: { for?: Manifest; putBack?: string[] } = {}): Promise<World> {
  const needVolumes = !opts.for || opts.for.volumes.length > 0 || (opts.putBack?.length ?? 0) > 0;
  const [containers, volumes] = await Promise.all([sd.runtime.listContainers({ all: true }), needVolumes ? sd.runtime.listVolumes() : []]);
  return { containers, volumes };
}

const inScope = (project: string, labels: Record<string, string>) => labels[LABEL.managed] === "true" && labels[LABEL.project] === project;

export interface PlanOptions {
  /**
   * The first apply of an attach or restore: refuses, before anything changes, what could only be
   * resolved by destroying state no restore point can bring back (a stopped container in the way,
   * a missing image) and anything outside the project (a container or volume of the same name that
   * is not this project's).
   */
  strict: boolean;
  /** containers to remove as well (the ones an apply restored, when returning to its restore point) */
  alsoRemove?: string[];
  /** volumes whose set-aside content comes back */
  putBack?: string[];
  /** replaced volumes' content may be set aside into the restore point (the forward apply only) */
  setAside?: boolean;
  world?: Promise<World>;
}

/** Plan applying `m` to the project `project` of this host. */
export async function planApply(sd: StateDeps, project: string, m: Manifest, opts: PlanOptions): Promise<Plan> {
  const rt = sd.runtime;
  const restoring = m.containers.filter((c) => c.archive);
  const world = await (opts.world ?? listWorld(sd, { for: m, putBack: opts.putBack }));
  const all = world.containers;
  const localVolumes = new Map(world.volumes.map((v) => [v.name, v]));
  const restoreNames = new Set(restoring.map((c) => c.name));
  const touched = new Set([...m.volumes.map((v) => v.name), ...(opts.putBack ?? [])]);
  const alsoRemove = new Set(opts.alsoRemove ?? []);
  const running = (c: ContainerInfo) => c.state === "running";

  if (opts.strict) {
    for (const c of all) {
      if (restoreNames.has(c.name) && !inScope(project, c.labels)) throw new ConflictError(`container ${c.name} exists here and is not one of project ${project}'s devx containers`, `the snapshot would replace it: rename or remove it (\`${rt.displayName} rm ${c.name}\`) if you do not need it`);
    }
    for (const v of m.volumes) {
      const here = localVolumes.get(v.name);
      if (here && !inScope(project, here.labels)) throw new ConflictError(`volume ${v.name} exists here and is not one of project ${project}'s devx volumes`, `the snapshot would replace its content: move your data out of it first, or remove it (\`${rt.displayName} volume rm ${v.name}\`)`);
    }
  }
  const replace = all.filter((c) => (m.mode === "full" && running(c) && inScope(project, c.labels)) || restoreNames.has(c.name) || alsoRemove.has(c.name));
  if (opts.strict) {
    const blocked = replace.filter((c) => !running(c) && !alsoRemove.has(c.name));
    if (blocked.length > 0) {
      // never "podman rm": a stopped container may be one an interrupted devx checkpointed, whose state lives in it
      throw new ConflictError(`container ${blocked.map((c) => c.name).join(", ")} exists here (${blocked[0]!.state}) and would be replaced`, `bring it back first: \`devx state recover\` if a devx was interrupted, else \`${rt.displayName} start ${blocked[0]!.name}\``);
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
  const pause = all.filter((c) => running(c) && !replaced.has(c.name) && c.volumes.some((v) => touched.has(v.name)));
  const holders = all.filter((c) => !replaced.has(c.name));
  const start = m.containers.filter((c) => !c.archive && all.some((x) => x.name === c.name)).map((c) => c.name);
  const rpRoot = dirs(sd.stateDir).restorePoints;
  const aside = await Promise.all(m.volumes.map((v) => (opts.setAside && localVolumes.has(v.name) ? canSetAside(localVolumes.get(v.name)!, rpRoot, rt.localVolumes === true) : false)));
  return {
    mode: m.mode,
    project,
    replace: replace.map((c) => ({ name: c.name, image: c.image })),
    pause: pause.map((c) => ({ name: c.name, image: c.image })),
    volumes: m.volumes.map((v, i) => ({
      name: v.name,
      exists: localVolumes.has(v.name),
      bytes: v.size,
      // a container that stays (stopped) keeps a reference: the volume is emptied in place with its image
      emptyWith: aside[i] ? undefined : holders.find((c) => c.volumes.some((x) => x.name === v.name))?.image,
      aside: aside[i] || undefined,
    })),
    putBack: opts.putBack ?? [],
    restore: restoring.map((c) => ({ name: c.name, image: c.image, ports: c.ports.map((p) => `${p.hostIp}:${p.hostPort}->${p.containerPort}/${p.protocol}`) })),
    start: [...new Set([...pause.map((c) => c.name), ...start])],
    elevations: [],
    refused: [],
  };
}

/** Passes chunks through into `hash`, pacing the collector (see gcPace): each read allocates a new chunk. */
async function* paced(src: AsyncIterable<Buffer>, hash: Hash): AsyncGenerator<Buffer> {
  for await (const c of src) {
    gcPace(c.length);
    hash.update(c);
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
  for (const v of p.putBack) lines.push(planLine("put back", `volume ${v} (its content from the restore point)`));
  for (const v of p.volumes) lines.push(planLine(v.exists ? "replace" : "create", `volume ${v.name} (${formatBytes(v.bytes)})${v.aside ? "; its content is kept aside for undo" : ""}`));
  for (const c of p.restore) lines.push(planLine("restore", `container ${c.name} (${c.image})${c.ports.length ? ` ports ${c.ports.join(", ")}` : ""}`));
  for (const n of p.start) lines.push(planLine("start", `container ${n}`));
  if (lines.length === 0) lines.push("  nothing to change");
  const refused = new Set(p.refused);
  for (const e of p.elevations) lines.push(planLine(refused.has(e) ? "REFUSED" : "allowed", `${e.subject}: ${e.detail} (--allow ${e.allow})`));
  return lines;
}

/** How an apply does the steps that differ between a trusted snapshot and a bundle, or a return. */
export interface ApplyHooks {
  /** move a volume's content into the restore point (plan.volumes[].aside) */
  setAside?(volume: string): Promise<void>;
  /** bring a volume's set-aside content back (plan.putBack) */
  putBack?(volume: string): Promise<void>;
  /** restore one container from its archive (default: the runtime's restore of that file) */
  restore?(c: ContainerEntry, archive: string): Promise<void>;
  /** labels of a volume the apply creates (default: the manifest's) */
  volumeLabels?(v: VolumeEntry): Record<string, string>;
}

/**
 * Apply a snapshot from `dir` following `plan`, then verify: restored and started containers are
 * running and every volume's content digest matches the manifest. `faultPrefix` names the steps
 * for failure injection ("apply", "rollback", "undo").
 */
export async function applySnapshot(sd: StateDeps, dir: string, m: Manifest, plan: Plan, faultPrefix: string, hooks: ApplyHooks = {}): Promise<void> {
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
  for (const v of plan.putBack) await run(`put back volume ${v}`, () => hooks.putBack!(v));
  for (const v of m.volumes) {
    const p = plan.volumes.find((x) => x.name === v.name);
    await run(`${p?.exists ? "replace" : "create"} volume ${v.name}`, async () => {
      if (p?.aside) await hooks.setAside!(v.name);
      if (!(await rt.listVolumes()).some((x) => x.name === v.name)) await rt.createVolume(v.name, hooks.volumeLabels?.(v) ?? v.labels);
      await sd.fault?.(`${faultPrefix}:import:${v.name}`);
      // the bytes given to the import are hashed on their way (they were checked against the
      // manifest entry by entry when they arrived); a runtime that did not take all of them exits
      // non-zero. Exporting the volume again to digest it cost a full read of it on every apply.
      const fed = createHash("sha256");
      await rt.importVolume(v.name, Readable.from(paced(createReadStream(join(dir, v.file), { highWaterMark: 1 << 20 }), fed), { objectMode: false }), { emptyWith: p?.emptyWith, isEmpty: p?.aside });
      if (fed.digest("hex") !== v.sha256) throw new UnhealthyError(`volume ${v.name}: the import was not given the snapshot's content`, "the snapshot changed on disk while it was applied: run the command again");
    });
  }
  for (const c of m.containers) {
    if (!c.archive || !rt.checkpointer) continue;
    const archive = join(dir, c.archive.file);
    const ck = rt.checkpointer;
    await run(`restore container ${c.name}`, async () => {
      if (hooks.restore) return hooks.restore(c, archive);
      await (ck.restoreFromFile ? ck.restoreFromFile(archive) : ck.restore(createReadStream(archive, { highWaterMark: 1 << 20 }), {}));
    });
  }
  for (const n of plan.start) await run(`start container ${n}`, async () => (await rt.inspectContainer(n))?.state !== "running" && rt.start(n));
  await run("verify containers are running", async () => {
    for (const name of [...plan.restore.map((c) => c.name), ...plan.start]) {
      const c = await rt.inspectContainer(name);
      if (c?.state !== "running") throw new UnhealthyError(`container ${name} is ${c?.state ?? "missing"} after the restore`, `see \`${rt.displayName} logs ${name}\``);
    }
  });
}
