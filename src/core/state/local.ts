import { readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { ConflictError, NotFoundError, UsageError } from "../../errors.ts";
import { pidAlive } from "../../platform/atomic.ts";
import { listWorld } from "./apply.ts";
import { captureSnapshot } from "./capture.ts";
import { bytesUnder, interruptedWork, journaledCapture, settleInterrupted, stateOperation, sweepLeftovers } from "./recover.ts";
import { NAME_RE, dirs, type StateDeps } from "./state-deps.ts";
import { MANIFEST_FILE, parseManifest, type Manifest } from "./manifest.ts";
import { listRestorePoints, restoreFromDir, type RestoreResult } from "./restore.ts";
import { chooseMode, databaseVolumes } from "./mode.ts";
import { recentShares, type RecentShare } from "./recent.ts";
import { selectBoth } from "./select.ts";

/** Local snapshots: `checkpoint` (full, or db-only where CRIU cannot run) and db `snapshot` (db-only). */
export type SnapshotKind = "checkpoint" | "db-snapshot";

const rootOf = (stateDir: string, kind: SnapshotKind) => (kind === "checkpoint" ? dirs(stateDir).checkpoints : dirs(stateDir).dbSnapshots);

function checkName(name: string): void {
  if (!NAME_RE.test(name)) throw new UsageError(`invalid snapshot name '${name}'`, "use lowercase letters, digits, '.', '_' and '-' (up to 63 characters)");
}

export interface SnapshotSummary {
  kind: SnapshotKind;
  name: string;
  created: string;
  mode: Manifest["mode"];
  containers: string[];
  volumes: string[];
  bytes: number;
}

function summary(kind: SnapshotKind, m: Manifest, bytes: number): SnapshotSummary {
  return { kind, name: m.name, created: m.created, mode: m.mode, containers: m.containers.filter((c) => c.archive).map((c) => c.name), volumes: m.volumes.map((v) => v.name), bytes };
}

export async function createSnapshot(sd: StateDeps, kind: SnapshotKind, name: string, opts: { force?: boolean; dbOnly?: boolean } = {}): Promise<SnapshotSummary> {
  checkName(name);
  await settleInterrupted(sd, { dryRun: false });
  const dir = join(rootOf(sd.stateDir, kind), name);
  const exists = await stat(join(dir, MANIFEST_FILE)).then(() => true, () => false);
  if (exists && !opts.force) throw new ConflictError(`${kind === "checkpoint" ? "checkpoint" : "snapshot"} '${name}' already exists`, "pick another name, remove it first, or pass --force to overwrite it");
  // the CRIU probe and the listing are independent: run them together
  const [mode, both] = await Promise.all([kind === "db-snapshot" ? ("db-only" as const) : chooseMode(sd, opts.dbOnly, "checkpointing"), selectBoth(sd)]);
  const sel = both[mode];
  if (sel.containers.length + sel.stopOnly.length + sel.volumes.length === 0) {
    throw new NotFoundError(`nothing to snapshot: no running devx-managed containers or ${mode === "db-only" ? "database " : ""}volumes${sd.project ? ` in project ${sd.project}` : ""}`, "start the environment (`devx up`) first");
  }
  const root = rootOf(sd.stateDir, kind);
  // a capture's own output (`.<name>.new-<pid>`) is settled by recoverInterrupted below, not by the journal
  const m = await journaledCapture(sd, { op: kind, source: `${kind === "checkpoint" ? "checkpoint" : "snapshot"} ${name}` }, async (beforeStop) => {
    await recoverInterrupted(root);
    // --force keeps the snapshot it replaces whole until its successor is: captured beside it
    // (hidden: not a valid name, so never listed), then swapped in
    const fresh = join(root, `.${name}.new-${process.pid}`);
    const m = await captureSnapshot(sd, sel, { dir: fresh, kind, name, beforeStop });
    const old = join(root, `.${name}.old-${process.pid}`);
    const had = await rename(dir, old).then(() => true, (e: NodeJS.ErrnoException) => (e.code === "ENOENT" ? false : Promise.reject(e)));
    await rename(fresh, dir);
    if (had) await rm(old, { recursive: true, force: true });
    return m;
  });
  return summary(kind, m, await dirBytes(dir));
}

/**
 * What a devx killed midway through a --force capture left beside the snapshots: a finished
 * successor (`.<name>.new-<pid>`, it has a manifest) or the snapshot it was replacing
 * (`.<name>.old-<pid>`) takes the name if the name is free; anything else is removed. Only entries
 * of processes that are gone are touched.
 */
async function recoverInterrupted(root: string): Promise<void> {
  const entries = (await readdir(root).catch(() => [] as string[])).map((e) => ({ e, m: /^\.(.+)\.(new|old)-(\d+)$/.exec(e) })).filter((x) => x.m && !pidAlive(Number(x.m[3])));
  // a finished successor first: it is what the user asked for
  entries.sort((a, b) => (a.m![2] === b.m![2] ? 0 : a.m![2] === "new" ? -1 : 1));
  for (const { e, m } of entries) {
    const from = join(root, e);
    const to = join(root, m![1]!);
    const complete = await stat(join(from, MANIFEST_FILE)).then(() => true, () => false);
    const free = await stat(to).then(() => false, () => true);
    if (complete && free && NAME_RE.test(m![1]!)) await rename(from, to);
    else await rm(from, { recursive: true, force: true });
  }
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const sub of ["", "containers", "volumes"]) {
    for (const f of await readdir(join(dir, sub), { withFileTypes: true }).catch(() => [])) if (f.isFile()) total += (await stat(join(dir, sub, f.name))).size;
  }
  return total;
}

async function load(stateDir: string, kind: SnapshotKind, name: string): Promise<{ dir: string; manifest: Manifest }> {
  checkName(name);
  const dir = join(rootOf(stateDir, kind), name);
  const text = await readFile(join(dir, MANIFEST_FILE), "utf8").catch(() => undefined);
  if (text === undefined) throw new NotFoundError(`no ${kind === "checkpoint" ? "checkpoint" : "database snapshot"} named '${name}'`, kind === "checkpoint" ? "see `devx state list`" : "see `devx db snapshot list`");
  return { dir, manifest: parseManifest(text, dir) };
}

export async function listLocal(stateDir: string, kind: SnapshotKind): Promise<SnapshotSummary[]> {
  const root = rootOf(stateDir, kind);
  await recoverInterrupted(root);
  const out: SnapshotSummary[] = [];
  for (const name of (await readdir(root).catch(() => [] as string[])).sort()) {
    try {
      const { dir, manifest } = await load(stateDir, kind, name);
      out.push(summary(kind, manifest, await dirBytes(dir)));
    } catch {
      // an interrupted capture has no manifest: not a snapshot
    }
  }
  return out.sort((a, b) => b.created.localeCompare(a.created));
}

/** The snapshot's summary; NotFoundError when there is none by that name (checked before asking to remove it). */
export async function findSnapshot(stateDir: string, kind: SnapshotKind, name: string): Promise<SnapshotSummary> {
  const { dir, manifest } = await load(stateDir, kind, name);
  return summary(kind, manifest, await dirBytes(dir));
}

export async function removeSnapshot(stateDir: string, kind: SnapshotKind, name: string): Promise<void> {
  const { dir } = await load(stateDir, kind, name);
  await rm(dir, { recursive: true, force: true });
}

/**
 * Restore points beyond the newest `keep` (each may hold the only copy of what an attach
 * replaced: never removed without being asked), and what interrupted runs left behind.
 */
export async function prunePlan(stateDir: string, keep: number): Promise<{ restorePoints: Array<{ name: string; source: string; created: string; bytes: number }>; leftovers: string[]; bytes: number }> {
  const old = (await listRestorePoints(stateDir)).slice(keep);
  const leftovers = await sweepLeftovers(stateDir, true);
  const restorePoints = [];
  for (const r of old) restorePoints.push({ name: r.name, source: r.source, created: r.created, bytes: await bytesUnder([r.dir]) });
  return { restorePoints, leftovers, bytes: restorePoints.reduce((n, r) => n + r.bytes, 0) + (await bytesUnder(leftovers)) };
}

export async function prune(sd: StateDeps, keep: number): Promise<Awaited<ReturnType<typeof prunePlan>>> {
  return stateOperation(sd, "pruning", async () => {
    const plan = await prunePlan(sd.stateDir, keep);
    for (const r of plan.restorePoints) await rm(join(dirs(sd.stateDir).restorePoints, r.name), { recursive: true, force: true });
    await sweepLeftovers(sd.stateDir, false);
    return plan;
  });
}

export async function restoreSnapshot(sd: StateDeps, kind: SnapshotKind, name: string, opts: { dryRun: boolean; confirm(q: string): Promise<void>; dbOnly?: boolean }): Promise<RestoreResult> {
  const { dir, manifest } = await load(sd.stateDir, kind, name);
  // the listing the plan needs runs alongside the CRIU probe (each costs ~0.1 s)
  const world = listWorld(sd, { for: manifest });
  world.catch(() => {});
  let mode = manifest.mode;
  if (mode === "full" && (opts.dbOnly || (await chooseMode(sd, false, "restoring")) === "db-only")) mode = "db-only";
  return restoreFromDir(sd, { dir, manifest, mode, source: `${kind === "checkpoint" ? "checkpoint" : "snapshot"} ${name}`, op: "restore", dryRun: opts.dryRun, confirm: opts.confirm, world });
}

/** Everything the dashboard's Snapshots pane and `state list` show, with what an interrupted devx left. */
export async function listSnapshots(sd: Pick<StateDeps, "stateDir">): Promise<{
  checkpoints: SnapshotSummary[];
  dbSnapshots: SnapshotSummary[];
  restorePoints: Array<Awaited<ReturnType<typeof listRestorePoints>>[number] & { bytes: number }>;
  shares: RecentShare[];
  /** operations a devx that is gone left half done (`devx state recover` finishes them) */
  interrupted: string[];
  /** bytes of scratch and unfinished restore points of interrupted runs (`devx state recover` reclaims them) */
  leftoverBytes: number;
}> {
  const [checkpoints, dbSnapshots, rps, shares, work] = await Promise.all([listLocal(sd.stateDir, "checkpoint"), listLocal(sd.stateDir, "db-snapshot"), listRestorePoints(sd.stateDir), recentShares(sd.stateDir), interruptedWork(sd.stateDir)]);
  const restorePoints = await Promise.all(rps.map(async (r) => ({ ...r, bytes: await bytesUnder([r.dir]) })));
  return { checkpoints, dbSnapshots, restorePoints, shares, interrupted: work.interrupted, leftoverBytes: work.leftoverBytes };
}

export { databaseVolumes };
