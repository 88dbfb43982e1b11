import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { ConflictError, DevxError, NotFoundError, ProviderError, isDevxError, messageOf } from "../../errors.ts";
import { withStateLock } from "./lock.ts";
import { readJson, writeFileAtomic } from "../../platform/atomic.ts";
import { LABEL } from "../labels.ts";
import { applySnapshot, describePlan, listWorld, planLine, planApply, type Plan, type World } from "./apply.ts";
import { captureSnapshot } from "./capture.ts";
import { dirs, type StateDeps } from "./context.ts";
import { MANIFEST_FILE, parseManifest, type Manifest } from "./manifest.ts";

/** Kept next to a restore point: what the apply added that the restore point does not know about. */
interface RestorePointNote {
  source: string;
  created: string;
  /** containers restored by the apply (removed again by undo) */
  containers: string[];
  /** volumes that did not exist before the apply (removed again by undo) */
  volumes: string[];
}

export interface RestoreRequest {
  dir: string;
  manifest: Manifest;
  /** "db-only" applies only the database volumes of a full snapshot */
  mode: Manifest["mode"];
  /** shown in messages: "bundle s3://…/x.devx", "checkpoint before-demo" */
  source: string;
  dryRun: boolean;
  confirm(question: string): Promise<void>;
  /** this host's containers and volumes, when the caller listed them already (alongside its CRIU probe) */
  world?: Promise<World>;
}

export interface RestoreResult {
  plan: Plan;
  applied: boolean;
  restorePoint?: string;
}

/** A full snapshot reduced to its database volumes (attach on a host that cannot restore checkpoints). */
export function dbOnly(m: Manifest): Manifest {
  if (m.mode === "db-only") return m;
  const dbContainers = m.containers.filter((c) => c.labels[LABEL.kind] === "database");
  const names = new Set([...m.volumes.filter((v) => v.labels[LABEL.kind] === "database").map((v) => v.name), ...dbContainers.flatMap((c) => c.volumes.map((v) => v.name))]);
  if (names.size === 0) throw new NotFoundError(`${m.name} holds no database volumes, so there is nothing to apply in db-only mode`, "attach it on a host where `criu check` passes (podman as root)");
  return { ...m, mode: "db-only", containers: [], volumes: m.volumes.filter((v) => names.has(v.name)) };
}

/**
 * Apply a snapshot directory to this host, safely: plan → confirm → restore point (the same
 * checkpoint + volume export of what the plan touches) → apply → verify. Any failure rolls back to
 * the restore point automatically; after success `undo` returns to it.
 */
export async function restoreFromDir(outer: StateDeps, req: RestoreRequest): Promise<RestoreResult> {
  // what gets replaced is the snapshot's own project: without a devx.yaml here, "every managed
  // container on this machine" would sweep up other projects' containers
  const sd = { ...outer, project: req.manifest.project ?? outer.project };
  const m = req.mode === "db-only" ? dbOnly(req.manifest) : req.manifest;
  let world = req.world ?? listWorld(sd, { for: m });
  const plan = await planApply(sd, m, { strict: true, world });
  sd.emit({ type: "info", message: `plan for ${req.source} (${m.mode}):\n${describePlan(plan).join("\n")}` });
  if (req.dryRun) return { plan, applied: false };
  const asked = Date.now();
  await req.confirm(`Apply ${req.source} to this machine (a restore point is taken first)?`);
  // a person took time to answer: make sure the plan they saw still holds
  const waited = Date.now() - asked > 1000;

  const rp = await withStateLock(sd.stateDir, `applying ${req.source}`, async () => {
    if (waited) {
      world = listWorld(sd, { for: m });
      if (JSON.stringify(await planApply(sd, m, { strict: true, world })) !== JSON.stringify(plan)) throw new ConflictError("this machine changed while the plan was shown", "run the command again to see the new plan");
    }
    const dir = await takeRestorePoint(sd, plan, req.source, await world);
    try {
      await applySnapshot(sd, req.dir, m, plan, "apply");
    } catch (e) {
      await rollback(sd, dir, e);
    }
    return dir;
  });
  sd.emit({ type: "info", message: `applied ${req.source}; \`devx state undo\` returns to the state before` });
  return { plan, applied: true, restorePoint: rp };
}

/**
 * The restore point covers what the plan touches, as listed for that plan (moments ago, or again
 * after a slow confirmation): a container that stopped since fails the checkpoint, before any change.
 */
async function takeRestorePoint(sd: StateDeps, plan: Plan, source: string, world: World): Promise<string> {
  const running = (names: string[]) => world.containers.filter((c) => c.state === "running" && names.includes(c.name));
  const replace = running(plan.replace.map((c) => c.name));
  const pause = running(plan.pause.map((c) => c.name));
  const existing = new Set(world.volumes.map((v) => v.name));
  const volumes = world.volumes.filter((v) => plan.volumes.some((p) => p.name === v.name));
  const stamp = sd.now().toISOString().replace(/[:.]/g, "-");
  const dir = join(dirs(sd.stateDir).restorePoints, stamp);
  sd.emit({ type: "step", id: "restore-point", title: "take a restore point", status: "started" });
  await captureSnapshot(sd, { mode: replace.length > 0 ? "full" : "db-only", containers: replace, stopOnly: pause, volumes }, { dir, kind: "restore-point", name: stamp, leaveStopped: true });
  const note: RestorePointNote = { source, created: sd.now().toISOString(), containers: plan.restore.map((c) => c.name), volumes: plan.volumes.filter((v) => !existing.has(v.name)).map((v) => v.name) };
  await writeFileAtomic(join(dir, "note.json"), JSON.stringify(note, null, 2) + "\n");
  sd.emit({ type: "step", id: "restore-point", title: "take a restore point", status: "done", detail: dir });
  return dir;
}

/** Return to a restore point; used after a failed apply (automatically) and by undo. */
async function returnTo(sd: StateDeps, rpDir: string, faultPrefix: string, confirm?: { dryRun: boolean; ask(q: string): Promise<void> }): Promise<Plan | undefined> {
  const manifest = parseManifest(await readFile(join(rpDir, MANIFEST_FILE), "utf8"), rpDir);
  const note = (await readJson<RestorePointNote>(join(rpDir, "note.json"))) ?? { source: "", created: "", containers: [], volumes: [] };
  const plan = await planApply(sd, manifest, { strict: false, alsoRemove: note.containers });
  if (confirm) {
    sd.emit({ type: "info", message: `plan to return to the state before ${note.source || "the last attach"}:\n${describePlan(plan).join("\n")}${note.volumes.length ? `\n${planLine("remove", `volume ${note.volumes.join(", ")}`)}` : ""}` });
    if (confirm.dryRun) return plan;
    await confirm.ask(`Return to the state before ${note.source || "the last attach"}?`);
  }
  await applySnapshot(sd, rpDir, manifest, plan, faultPrefix);
  for (const v of note.volumes) {
    await sd.fault?.(`${faultPrefix}:remove-volume`);
    await sd.runtime.removeVolume(v).catch((e) => sd.emit({ type: "warning", message: `could not remove volume ${v} created by the attach: ${messageOf(e)}` }));
  }
  return plan;
}

async function rollback(sd: StateDeps, rpDir: string, cause: unknown): Promise<never> {
  const what = messageOf(cause);
  sd.emit({ type: "warning", message: `applying failed (${what}); rolling back to the restore point` });
  try {
    // a Ctrl-C that stopped the apply must not stop the rollback too
    await returnTo({ ...sd, signal: undefined }, rpDir, "rollback");
  } catch (e) {
    throw new DevxError(
      `applying failed (${what}) and rolling back failed too (${messageOf(e)})`,
      `the restore point is kept at ${rpDir}; fix the cause, then run \`devx state undo\``,
      { cause },
    );
  }
  await rm(rpDir, { recursive: true, force: true });
  sd.emit({ type: "info", message: "rolled back: this machine is as it was before" });
  const hint = isDevxError(cause) ? cause.hint : "run with --debug for details";
  const message = `${what} — rolled back, nothing was changed`;
  if (isDevxError(cause)) {
    const Ctor = cause.constructor as new (m: string, h: string, o?: { cause?: unknown }) => DevxError;
    throw new Ctor(message, hint, { cause });
  }
  throw new ProviderError(message, hint, { cause });
}

/** Restore points, newest first. */
export async function listRestorePoints(stateDir: string): Promise<Array<{ dir: string; name: string; source: string; created: string }>> {
  const root = dirs(stateDir).restorePoints;
  const names = await readdir(root).catch(() => [] as string[]);
  const out = [];
  for (const name of names.sort().reverse()) {
    const note = await readJson<RestorePointNote>(join(root, name, "note.json")).catch(() => undefined);
    if (note) out.push({ dir: join(root, name), name, source: note.source, created: note.created });
  }
  return out;
}

/** `devx state undo`: return to the newest restore point, then drop it (the next undo goes one further back). */
export async function undo(sd: StateDeps, opts: { dryRun: boolean; confirm(q: string): Promise<void> }): Promise<{ plan?: Plan; source: string; applied: boolean }> {
  const [latest] = await listRestorePoints(sd.stateDir);
  if (!latest) throw new NotFoundError("there is no restore point to return to", "restore points are taken by `devx state attach`, `devx state restore` and `devx db snapshot restore`");
  if (opts.dryRun) return { plan: await returnTo(sd, latest.dir, "undo", { dryRun: true, ask: opts.confirm }), source: latest.source, applied: false };
  const plan = await withStateLock(sd.stateDir, "undo", async () => {
    const p = await returnTo(sd, latest.dir, "undo", { dryRun: false, ask: opts.confirm });
    await rm(latest.dir, { recursive: true, force: true });
    return p;
  });
  return { plan, source: latest.source, applied: true };
}
