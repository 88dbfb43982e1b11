import { stat } from "node:fs/promises";
import { join } from "node:path";
import { ConflictError, NotFoundError, UsageError } from "../../../errors.ts";
import type { StateDeps } from "../../../core/state/state-deps.ts";
import type { SnapshotKind } from "../../../core/state/local.ts";

/** What a capture (checkpoint, db snapshot, share) would take: `--dry-run`'s plan. */
export interface SelectionPlan {
  mode: "full" | "db-only";
  containers: string[];
  stopped: string[];
  volumes: string[];
}

/**
 * The plan of a capture, from the same selection the real run makes, refusing what the real run
 * would refuse (a bad or taken name, nothing to capture) so a dry run that succeeds means it.
 */
export async function selectionPlan(sd: StateDeps, o: { kind?: SnapshotKind; name?: string; force?: boolean; dbOnly?: boolean }): Promise<SelectionPlan> {
  const { NAME_RE, dirs } = await import("../../../core/state/state-deps.ts");
  const { selectForSnapshot } = await import("../../../core/state/select.ts");
  const { chooseMode } = await import("../../../core/state/mode.ts");
  if (o.kind && o.name !== undefined) {
    if (!NAME_RE.test(o.name)) throw new UsageError(`invalid snapshot name '${o.name}'`, "use lowercase letters, digits, '.', '_' and '-' (up to 63 characters)");
    const root = o.kind === "checkpoint" ? dirs(sd.stateDir).checkpoints : dirs(sd.stateDir).dbSnapshots;
    const exists = await stat(join(root, o.name, "manifest.json")).then(() => true, () => false);
    if (exists && !o.force) throw new ConflictError(`${o.kind === "checkpoint" ? "checkpoint" : "snapshot"} '${o.name}' already exists`, "pick another name, remove it first, or pass --force to overwrite it");
  }
  const mode = o.kind === "db-snapshot" ? "db-only" : await chooseMode(sd, o.dbOnly, o.kind ? "checkpointing" : "sharing");
  const sel = await selectForSnapshot(sd, mode);
  if (sel.containers.length + sel.stopOnly.length + sel.volumes.length === 0) {
    throw new NotFoundError(`nothing to ${o.kind ? "snapshot" : "share"}: no running devx-managed containers or ${mode === "db-only" ? "database " : ""}volumes${sd.project ? ` in project ${sd.project}` : ""}`, "start the environment (`devx up`) first");
  }
  return { mode, containers: sel.containers.map((c) => c.name), stopped: sel.stopOnly.map((c) => c.name), volumes: sel.volumes.map((v) => v.name) };
}

/** The plan as aligned lines: action, then what it acts on. */
export function planLines(p: SelectionPlan): string[] {
  const rows: Array<[string, string]> = [
    ...p.containers.map((c): [string, string] => ["checkpoint", `container ${c}`]),
    ...p.stopped.map((c): [string, string] => ["stop and start", `container ${c}`]),
    ...p.volumes.map((v): [string, string] => ["export", `volume ${v}`]),
  ];
  const w = Math.max(0, ...rows.map(([a]) => a.length));
  return rows.map(([a, what]) => `  ${a.padEnd(w)}  ${what}`);
}
