import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { messageOf } from "../../errors.ts";
import { readJson } from "../../platform/atomic.ts";
import { writeFileDurable } from "../../platform/durable.ts";
import { applySnapshot, describePlan, planApply, planLine, type Plan, type World } from "./apply.ts";
import { captureSnapshot } from "./capture.ts";
import { dirs, type StateDeps } from "./state-deps.ts";
import type { Journal } from "./journal.ts";
import { MANIFEST_FILE, parseManifest } from "./manifest.ts";
import { planAside, putBack, setAside, type AsideEntry } from "./volume-aside.ts";

/**
 * A restore point: what an attach or restore is about to change, kept so that a failure (rollback),
 * a request (`state undo`) or a crash (recovery) can return this machine to exactly that. It is a
 * snapshot directory (checkpoints of the containers replaced, exports of volumes that cannot be set
 * aside) plus note.json, whose presence marks it complete. note.json also lists the volumes whose
 * content is moved into it during the apply (volume-aside.ts) and what the apply added.
 */
export interface RestorePointNote {
  source: string;
  created: string;
  project: string;
  /** containers restored by the apply (removed again by undo) */
  containers: string[];
  /** volumes that did not exist before the apply (removed again by undo) */
  volumes: string[];
  /** volumes whose content the apply sets aside here */
  aside: AsideEntry[];
}

export const NOTE_FILE = "note.json";

export class RestorePoint {
  constructor(
    readonly dir: string,
    readonly note: RestorePointNote,
  ) {}

  static async load(dir: string): Promise<RestorePoint | undefined> {
    const note = await readJson<RestorePointNote>(join(dir, NOTE_FILE)).catch(() => undefined);
    if (!note) return undefined;
    note.aside ??= [];
    return new RestorePoint(dir, note);
  }

  /** note.json, durably: each change of an aside entry's state is written before the renames that follow it */
  save(): Promise<void> {
    return writeFileDurable(join(this.dir, NOTE_FILE), JSON.stringify(this.note, null, 2) + "\n");
  }

  aside(volume: string): AsideEntry | undefined {
    return this.note.aside.find((a) => a.volume === volume);
  }

  async setAside(volume: string, fault?: (p: string) => void | Promise<void>): Promise<void> {
    const e = this.aside(volume)!;
    e.state = "moving";
    await this.save();
    await fault?.(`apply:aside:${volume}`);
    await setAside(e);
    e.state = "moved";
    await this.save();
  }

  async putBack(volume: string): Promise<void> {
    const e = this.aside(volume)!;
    await putBack(e, join(this.dir, "trash", volume), async (state) => {
      e.state = state;
      await this.save();
    });
  }
}

/**
 * Take the restore point for `plan` in a new directory: the containers it replaces are
 * checkpointed and left stopped, the ones it pauses are stopped, volumes that cannot be set aside
 * are exported; note.json is written last. `journal` learns of every container before it stops.
 */
export async function takeRestorePoint(sd: StateDeps, plan: Plan, world: World, opts: { dir: string; source: string; journal: Journal }): Promise<RestorePoint> {
  const running = (names: string[]) => world.containers.filter((c) => c.state === "running" && names.includes(c.name));
  const replace = running(plan.replace.map((c) => c.name));
  const pause = running(plan.pause.map((c) => c.name));
  const existing = new Set(world.volumes.map((v) => v.name));
  const exported = world.volumes.filter((v) => plan.volumes.some((p) => p.name === v.name && !p.aside));
  sd.emit({ type: "step", id: "restore-point", title: "take a restore point", status: "started" });
  await captureSnapshot(sd, { mode: replace.length > 0 ? "full" : "db-only", containers: replace, stopOnly: pause, volumes: exported }, {
    dir: opts.dir,
    kind: "restore-point",
    name: opts.dir.split("/").pop()!,
    leaveStopped: true,
    faultPrefix: "restore-point",
    beforeStop: (name, checkpointed) => opts.journal.update((r) => void r.stopped.push({ name, checkpointed })),
  });
  const aside = await Promise.all(plan.volumes.filter((p) => p.aside).map((p) => planAside(world.volumes.find((v) => v.name === p.name)!, join(opts.dir, "aside", p.name))));
  const rp = new RestorePoint(opts.dir, {
    source: opts.source,
    created: sd.now().toISOString(),
    project: plan.project,
    containers: plan.restore.map((c) => c.name),
    volumes: plan.volumes.filter((v) => !existing.has(v.name)).map((v) => v.name),
    aside,
  });
  await rp.save();
  sd.emit({ type: "step", id: "restore-point", title: "take a restore point", status: "done", detail: opts.dir });
  return rp;
}

/**
 * Return to a restore point: what the apply restored is removed, set-aside content comes back,
 * exported volumes are imported, checkpointed containers are restored, and what the apply created
 * is removed. Used after a failed apply (rollback), by `state undo`, and by recovery; safe to run
 * again after it was interrupted (it plans from what is here now).
 */
export async function returnTo(sd: StateDeps, rp: RestorePoint, faultPrefix: string, confirm?: { dryRun: boolean; ask(q: string): Promise<void> }): Promise<Plan | undefined> {
  const manifest = parseManifest(await readFile(join(rp.dir, MANIFEST_FILE), "utf8"), rp.dir);
  const { note } = rp;
  const plan = await planApply(sd, note.project, manifest, { strict: false, alsoRemove: note.containers, putBack: note.aside.filter((a) => a.state !== "planned").map((a) => a.volume) });
  if (confirm) {
    sd.emit({ type: "info", message: `plan to return to the state before ${note.source || "the last attach"}:\n${describePlan(plan).join("\n")}${note.volumes.length ? `\n${planLine("remove", `volume ${note.volumes.join(", ")}`)}` : ""}` });
    if (confirm.dryRun) return plan;
    await confirm.ask(`Return to the state before ${note.source || "the last attach"}?`);
  }
  await applySnapshot(sd, rp.dir, manifest, plan, faultPrefix, {
    putBack: async (volume) => {
      const e = rp.aside(volume)!;
      // the user may have removed the volume since: it comes back with its labels, then its content
      const here = (await sd.runtime.listVolumes()).find((v) => v.name === volume);
      if (!here) {
        await sd.runtime.createVolume(volume, e.labels);
        e.data = (await sd.runtime.listVolumes()).find((v) => v.name === volume)?.mountpoint ?? e.data;
        await rp.save();
      }
      await rp.putBack(volume);
    },
  });
  const present = new Set((await sd.runtime.listVolumes()).map((v) => v.name));
  for (const v of note.volumes.filter((x) => present.has(x))) {
    await sd.fault?.(`${faultPrefix}:remove-volume`);
    await sd.runtime.removeVolume(v).catch((e) => sd.emit({ type: "warning", message: `could not remove volume ${v} created by the attach: ${messageOf(e)}` }));
  }
  return plan;
}

/** Restore points, newest first (complete ones only: note.json marks them). */
export async function listRestorePoints(stateDir: string): Promise<Array<{ dir: string; name: string; source: string; created: string; project: string }>> {
  const root = dirs(stateDir).restorePoints;
  const names = await readdir(root).catch(() => [] as string[]);
  const out = [];
  for (const name of names.sort().reverse()) {
    const rp = await RestorePoint.load(join(root, name));
    if (rp) out.push({ dir: rp.dir, name, source: rp.note.source, created: rp.note.created, project: rp.note.project });
  }
  return out;
}

export async function removeRestorePoint(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
