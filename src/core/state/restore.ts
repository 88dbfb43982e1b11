import { rm } from "node:fs/promises";
import { join } from "node:path";
import { ConflictError, DevxError, NotFoundError, PermissionError, ProviderError, UsageError, isDevxError, messageOf } from "../../errors.ts";
import { LABEL } from "../labels.ts";
import { applySnapshot, describePlan, listWorld, planApply, type ApplyHooks, type Plan, type World } from "./apply.ts";
import { inspectBundleCheckpoints, restoreRewritten, volumeLabels, type BundleFindings } from "./attach-checks.ts";
import { dirs, type StateDeps } from "./state-deps.ts";
import type { Allowance } from "./guard/allow.ts";
import { Journal } from "./journal.ts";
import type { Manifest } from "./manifest.ts";
import { settleInterrupted, stateOperation } from "./recover.ts";
import { listRestorePoints, RestorePoint, returnTo, takeRestorePoint } from "./restore-point.ts";

export interface RestoreRequest {
  dir: string;
  manifest: Manifest;
  /** "db-only" applies only the database volumes of a full snapshot */
  mode: Manifest["mode"];
  /** shown in messages: "bundle s3://…/x.devx", "checkpoint before-demo" */
  source: string;
  op: "attach" | "restore";
  dryRun: boolean;
  confirm(question: string): Promise<void>;
  /** this host's containers and volumes, when the caller listed them already (alongside its CRIU probe) */
  world?: Promise<World>;
  /**
   * A bundle from someone else: its checkpoints are inspected and rewritten before podman sees
   * them, what it creates carries devx's labels, and what it asks for beyond its own containers
   * and volumes needs the user's allowance.
   */
  bundle?: { allow: Set<Allowance>; setuid: Record<string, { paths: string[]; count: number }>; scratch: string };
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
 * The project an apply may touch: this directory's, decided here. A snapshot of another project
 * is refused (its containers and volumes are that project's), and without a project there is no
 * scope at all (it would be "every devx container on this machine").
 */
export function localScope(sd: StateDeps, m: Manifest, source: string): string {
  if (!sd.project) throw new UsageError(`${source} can only be applied inside a project`, "run it in the directory of the project's devx.yaml (its `name` is the project), or pass -f path/to/devx.yaml");
  if (m.project !== undefined && m.project !== sd.project) throw new ConflictError(`${source} is of project ${m.project}, and this directory is project ${sd.project}`, `apply it in a checkout of ${m.project}`);
  return sd.project;
}

/** A plan that asks for what was not allowed; it carries the plan so a dry run can show it too. */
export class RefusedPlanError extends PermissionError {
  constructor(message: string, hint: string, readonly plan: Plan, readonly title: string) {
    super(message, hint);
  }
}

/**
 * Apply a snapshot directory to this host, safely: plan → (bundle: inspect and refuse what is not
 * allowed) → confirm → restore point → apply → verify. Any failure rolls back to the restore point
 * automatically; after success `undo` returns to it. A journal (journal.ts) covers every step, so
 * a devx killed at any point is finished by the next one (recover.ts).
 */
export async function restoreFromDir(sd: StateDeps, req: RestoreRequest): Promise<RestoreResult> {
  await settleInterrupted(sd, req);
  const project = localScope(sd, req.manifest, req.source);
  const m = req.mode === "db-only" ? dbOnly(req.manifest) : req.manifest;
  let world = req.world ?? listWorld(sd, { for: m });
  const plan = await planApply(sd, project, m, { strict: true, world, setAside: true });
  const findings = req.bundle ? await inspectBundleCheckpoints(sd, req.dir, m, plan, req.bundle) : undefined;
  sd.emit({ type: "info", message: `plan for ${req.source} (${m.mode}):\n${describePlan(plan).join("\n")}` });
  if (plan.refused.length > 0) {
    const names = [...new Set(plan.refused.map((e) => e.allow))];
    throw new RefusedPlanError(`${req.source} asks for what you did not allow: ${plan.refused.map((e) => `${e.subject}: ${e.detail}`).join("; ")}`, `if you trust whoever shared it, attach with --allow ${names.join(",")}; nothing was changed`, plan, `plan for ${req.source} (${m.mode})`);
  }
  if (req.dryRun) return { plan, applied: false };
  const asked = Date.now();
  await req.confirm(`Apply ${req.source} to this machine (a restore point is taken first)?`);
  // a person took time to answer: make sure the plan they saw still holds
  const waited = Date.now() - asked > 1000;

  const rp = await stateOperation(sd, `applying ${req.source}`, async () => {
    if (waited) {
      world = listWorld(sd, { for: m });
      const again = await planApply(sd, project, m, { strict: true, world, setAside: true });
      if (JSON.stringify({ ...again, elevations: [], refused: [] }) !== JSON.stringify({ ...plan, elevations: [], refused: [] })) throw new ConflictError("this machine changed while the plan was shown", "run the command again to see the new plan");
    }
    const stamp = sd.now().toISOString().replace(/[:.]/g, "-");
    const dir = join(dirs(sd.stateDir).restorePoints, stamp);
    const journal = await Journal.begin(sd.stateDir, { op: req.op, source: req.source, project, restorePoint: dir, scratch: req.bundle ? [req.bundle.scratch] : [], phase: "capture" });
    const taken = await takeRestorePoint(sd, plan, await world, { dir, source: req.source, journal }).catch(async (e: unknown) => {
      // the capture brought back what it stopped and removed its directory
      await journal.close();
      throw e;
    });
    await journal.update((r) => void (r.phase = "apply"));
    const hooks: ApplyHooks = {
      setAside: (volume) => taken.setAside(volume, sd.fault),
      ...(req.bundle && findings ? bundleHooks(sd, req.dir, project, findings, req.bundle.allow) : {}),
    };
    try {
      await applySnapshot(sd, req.dir, m, plan, "apply", hooks);
    } catch (e) {
      await journal.update((r) => void (r.phase = "rollback"));
      await rollback(sd, taken, e, journal);
    }
    await journal.update((r) => void (r.phase = "applied"));
    await sd.fault?.("applied");
    await journal.close();
    return taken.dir;
  });
  sd.emit({ type: "info", message: `applied ${req.source}; \`devx state undo\` returns to the state before` });
  return { plan, applied: true, restorePoint: rp };
}

function bundleHooks(sd: StateDeps, dir: string, project: string, findings: BundleFindings, allow: Set<Allowance>): ApplyHooks {
  return {
    volumeLabels: (v) => volumeLabels(project, v),
    restore: (c, archive) => restoreRewritten(sd, { dir, project, entry: c, archive, keepBinds: allow.has("bind-mounts"), findings: findings.get(c.name)! }),
  };
}

async function rollback(sd: StateDeps, rp: RestorePoint, cause: unknown, journal: Journal): Promise<never> {
  const what = messageOf(cause);
  sd.emit({ type: "warning", message: `applying failed (${what}); rolling back to the restore point` });
  try {
    // a Ctrl-C that stopped the apply must not stop the rollback too
    await returnTo({ ...sd, signal: undefined }, rp, "rollback");
  } catch (e) {
    // the journal stays: the next devx command (or `devx state recover`) tries the rollback again
    throw new DevxError(`applying failed (${what}) and rolling back failed too (${messageOf(e)})`, `the restore point is kept at ${rp.dir}; fix the cause, then run \`devx state recover\``, { cause });
  }
  await rm(rp.dir, { recursive: true, force: true });
  await journal.close();
  sd.emit({ type: "info", message: "rolled back: this machine is as it was before" });
  const hint = isDevxError(cause) ? cause.hint : "run with --debug for details";
  const message = `${what} — rolled back, nothing was changed`;
  if (isDevxError(cause)) {
    const Ctor = cause.constructor as new (m: string, h: string, o?: { cause?: unknown }) => DevxError;
    throw new Ctor(message, hint, { cause });
  }
  throw new ProviderError(message, hint, { cause });
}

export { listRestorePoints };

/** `devx state undo`: return to the newest restore point, then drop it (the next undo goes one further back). */
export async function undo(sd: StateDeps, opts: { dryRun: boolean; confirm(q: string): Promise<void> }): Promise<{ plan?: Plan; source: string; applied: boolean }> {
  await settleInterrupted(sd, opts);
  const [latest] = await listRestorePoints(sd.stateDir);
  if (!latest) throw new NotFoundError("there is no restore point to return to", "restore points are taken by `devx state attach`, `devx state restore` and `devx db snapshot restore`");
  const rp = (await RestorePoint.load(latest.dir))!;
  // the restore point's own project: it was recorded by this machine when it was taken
  const scoped = { ...sd, project: rp.note.project };
  const shown = await returnTo(scoped, rp, "undo", { dryRun: true, ask: opts.confirm });
  if (opts.dryRun) return { plan: shown, source: latest.source, applied: false };
  await opts.confirm(`Return to the state before ${latest.source}?`);
  const plan = await stateOperation(scoped, "undo", async () => {
    // asked before the journal exists: a devx killed at the prompt has changed nothing
    const journal = await Journal.begin(sd.stateDir, { op: "undo", source: latest.source, project: rp.note.project, restorePoint: rp.dir, phase: "undo" });
    const p = await returnTo(scoped, rp, "undo");
    await rm(rp.dir, { recursive: true, force: true });
    await journal.close();
    return p;
  });
  return { plan, source: latest.source, applied: true };
}
