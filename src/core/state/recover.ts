import { lstat, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { DevxError, messageOf } from "../../errors.ts";
import { pidAlive } from "../../platform/atomic.ts";
import { findProcesses } from "../../platform/process.ts";
import { dirs, type StateDeps } from "./state-deps.ts";
import { Journal, listJournals, type JournalRecord } from "./journal.ts";
import { withStateLock } from "./lock.ts";
import { NOTE_FILE, RestorePoint, returnTo } from "./restore-point.ts";

/**
 * Finishing what a devx that died left half done, from its journal (journal.ts), so the machine
 * ends exactly as before that command — or as after it, where its apply had finished:
 * - capture (a checkpoint, a share, or a restore point being taken): every container it stopped is
 *   brought back (resumed from its checkpoint, or started), an unfinished restore point and
 *   scratch directories are removed;
 * - apply, rollback: the machine returns to the restore point (as an automatic rollback would have),
 *   then the restore point is removed;
 * - applied: only clean-up was left;
 * - undo: the undo is finished (it was returning to the restore point the user asked for).
 * Work the dead devx started in podman (a checkpoint still dumping, a restore) is waited for first.
 * Every state-changing command runs this before its own work; `devx state recover` runs it alone.
 */
export interface Recovered {
  op: JournalRecord["op"];
  source: string;
  pid: number;
  phase: JournalRecord["phase"];
  /** what recovery did (or, with dryRun, would do) */
  actions: string[];
}

const PHASE = {
  capture: "while it was stopping containers to capture them",
  apply: "while it was applying (its restore point is complete)",
  rollback: "while it was rolling back to its restore point",
  applied: "after its apply had finished",
  undo: "while it was returning to a restore point",
} as const;

export function describeInterrupted(r: JournalRecord): string {
  return `\`devx state ${r.op}\` of ${r.source} was interrupted ${PHASE[r.phase]} (PID ${r.pid}, started ${r.started}${r.step ? `, at ${r.step}` : ""})`;
}

/** Take the state lock, finish what an interrupted devx left, then run `fn`. */
export async function stateOperation<T>(sd: StateDeps, what: string, fn: () => Promise<T>): Promise<T> {
  return withStateLock(sd.stateDir, what, async () => {
    await recoverLocked(sd, { dryRun: false });
    return fn();
  });
}

/**
 * A capture (share, checkpoint, db snapshot) under the state lock with a journal: every container
 * it stops is recorded first (`beforeStop`), so a devx killed mid-capture leaves nothing stopped.
 */
export async function journaledCapture<T>(sd: StateDeps, what: { op: "share" | "checkpoint" | "db-snapshot"; source: string; scratch?: string }, capture: (beforeStop: (name: string, checkpointed: boolean) => Promise<void>) => Promise<T>): Promise<T> {
  return stateOperation(sd, what.source, async () => {
    const journal = await Journal.begin(sd.stateDir, { op: what.op, source: what.source, project: sd.project, scratch: what.scratch ? [what.scratch] : [], phase: "capture" });
    const out = await capture((name, checkpointed) => journal.update((r) => void r.stopped.push({ name, checkpointed })));
    await journal.close();
    return out;
  });
}

/**
 * Before a state command plans anything: finish what an interrupted devx left (or, for --dry-run,
 * only say what that would do). Cheap when there is nothing: one readdir.
 */
export async function settleInterrupted(sd: StateDeps, opts: { dryRun: boolean }): Promise<void> {
  if ((await listJournals(sd.stateDir)).length === 0) return;
  await recoverInterrupted(sd, opts);
}

/** `devx state recover` (and doctor --fix): the recovery alone. */
export async function recoverInterrupted(sd: StateDeps, opts: { dryRun: boolean }): Promise<{ recovered: Recovered[]; swept: string[] }> {
  if (opts.dryRun) return recoverLocked(sd, opts);
  return withStateLock(sd.stateDir, "recovering interrupted work", () => recoverLocked(sd, opts));
}

async function recoverLocked(sd: StateDeps, opts: { dryRun: boolean }): Promise<{ recovered: Recovered[]; swept: string[] }> {
  const recovered: Recovered[] = [];
  for (const j of await listJournals(sd.stateDir)) {
    if ("broken" in j) {
      sd.emit({ type: "warning", message: `unreadable state journal ${j.file}: ${j.broken}`, hint: "remove it if you edited it by hand; devx cannot tell what it recorded" });
      continue;
    }
    if (j.alive) continue;
    const r = j.record;
    const actions = plannedActions(r);
    sd.emit({ type: "warning", message: describeInterrupted(r), hint: opts.dryRun ? `\`devx state recover\` will: ${actions.join("; ")}` : undefined });
    if (!opts.dryRun) {
      await finish(sd, Journal.adopt(j.file, r));
      sd.emit({ type: "info", message: `recovered: ${actions.join("; ")}` });
    }
    recovered.push({ op: r.op, source: r.source, pid: r.pid, phase: r.phase, actions });
  }
  const swept = await sweepLeftovers(sd.stateDir, opts.dryRun);
  return { recovered, swept };
}

function plannedActions(r: JournalRecord): string[] {
  const out: string[] = [];
  if (r.phase === "capture") {
    if (r.stopped.length > 0) out.push(`bring back container ${r.stopped.map((s) => s.name).join(", ")} if stopped`);
    if (r.restorePoint && r.op !== "checkpoint" && r.op !== "db-snapshot" && r.op !== "share") out.push("discard the unfinished restore point");
  }
  if (r.phase === "apply" || r.phase === "rollback") out.push(`return to the restore point taken before ${r.source}, then remove it`);
  if (r.phase === "undo") out.push(`finish returning to the state before ${r.source}`);
  if (r.scratch.length > 0) out.push("remove its scratch files");
  if (out.length === 0) out.push("nothing was changed: forget it");
  return out;
}

async function finish(outer: StateDeps, j: Journal): Promise<void> {
  const r = j.record;
  // recovery runs to the end: the Ctrl-C that may come is for the command that asked for it
  const sd: StateDeps = { ...outer, signal: undefined };
  await waitForRuntime(sd, r);
  const rp = r.restorePoint ? await RestorePoint.load(r.restorePoint) : undefined;
  try {
    if (r.phase === "capture") {
      await bringBack(sd, r.stopped);
      // a restore point still being taken is not one yet; a checkpoint's own output is handled by its kind (local.ts)
      if (r.restorePoint && (r.op === "attach" || r.op === "restore")) await rm(r.restorePoint, { recursive: true, force: true });
    } else if (r.phase === "apply" || r.phase === "rollback" || r.phase === "undo") {
      if (!rp) throw new DevxError(`the restore point ${r.restorePoint ?? "(none)"} of the interrupted ${r.op} is missing or incomplete`, "nothing was changed by recovery; see `devx state list` and check your containers and volumes");
      await returnTo(sd, rp, "recover");
      await rm(rp.dir, { recursive: true, force: true });
    }
    for (const d of r.scratch) await rm(d, { recursive: true, force: true });
  } catch (e) {
    throw new DevxError(`recovering the interrupted ${r.op} of ${r.source} failed: ${messageOf(e)}`, "fix the cause (see `devx doctor`), then run `devx state recover` again; the journal is kept", { cause: e });
  }
  await j.close();
}

/** Containers an interrupted capture stopped: resumed from their checkpoint, or started; running ones are left alone. */
async function bringBack(sd: StateDeps, stopped: JournalRecord["stopped"]): Promise<void> {
  const rt = sd.runtime;
  for (const s of stopped) {
    const c = await rt.inspectContainer(s.name);
    if (!c || c.state === "running") continue;
    try {
      if (s.checkpointed && rt.checkpointer?.resume) await rt.checkpointer.resume(s.name);
      else await rt.start(s.name);
    } catch (e) {
      if (!s.checkpointed) throw e;
      // its checkpoint never finished: the container was stopped by the dump's end or not at all
      await rt.start(s.name);
      sd.emit({ type: "warning", message: `${s.name} was started fresh: resuming it from its checkpoint failed (${messageOf(e)})`, hint: "its in-memory state is lost; its volumes are intact" });
    }
  }
}

/**
 * podman work the dead devx started and that outlives it on purpose (a checkpoint or restore is
 * never killed half-way: that could leave a container frozen): wait for it before judging state.
 */
async function waitForRuntime(sd: StateDeps, r: JournalRecord): Promise<void> {
  const needles = [...r.stopped.map((s) => s.name), ...(r.restorePoint ? [r.restorePoint] : []), ...r.scratch];
  if (needles.length === 0) return;
  const bin = sd.runtime.displayName;
  const busy = () =>
    findProcesses((argv) => argv.some((a) => a === bin || a.endsWith(`/${bin}`)) && argv.some((a) => a === "checkpoint" || a === "restore") && argv.some((a) => needles.some((n) => a === n || a.includes(n))));
  let told = false;
  for (const deadline = Date.now() + 15 * 60_000; Date.now() < deadline; ) {
    const pids = busy();
    if (pids.length === 0) return;
    if (!told) sd.emit({ type: "info", message: `waiting for ${bin} work the interrupted devx started (PID ${pids.join(", ")})` });
    told = true;
    await new Promise((res) => setTimeout(res, 250));
  }
  throw new DevxError(`${bin} work started by the interrupted devx is still running after 15 minutes`, `see \`ps -ef | grep ${bin}\`; run \`devx state recover\` once it has finished`);
}

const OWNED = /^[a-z]+-(\d+)-[0-9a-f]+/;

/**
 * What dead devx processes left in the state directory: scratch directories and files of a PID
 * that is gone (downloads, capture outputs, staged archives), and restore points that were never
 * completed and that no journal still refers to. Returns what was (or would be) removed.
 */
export async function sweepLeftovers(stateDir: string, dryRun: boolean): Promise<string[]> {
  const d = dirs(stateDir);
  const live = new Set<string>();
  for (const j of await listJournals(stateDir)) if (!("broken" in j)) for (const p of [j.record.restorePoint, ...j.record.scratch]) if (p) live.add(p);
  const out: string[] = [];
  for (const f of await readdir(d.tmp).catch(() => [] as string[])) {
    const m = OWNED.exec(f);
    const path = join(d.tmp, f);
    if (m && !pidAlive(Number(m[1])) && !live.has(path)) out.push(path);
  }
  for (const f of await readdir(d.restorePoints).catch(() => [] as string[])) {
    const path = join(d.restorePoints, f);
    if (live.has(path)) continue;
    if (!(await stat(join(path, NOTE_FILE)).then(() => true, () => false))) out.push(path);
  }
  if (!dryRun) for (const p of out) await rm(p, { recursive: true, force: true });
  return out;
}

/** What `state list` and doctor report: operations a devx that is gone left half done, and its leftovers. */
export async function interruptedWork(stateDir: string): Promise<{ interrupted: string[]; leftovers: string[]; leftoverBytes: number }> {
  const [journals, leftovers] = await Promise.all([listJournals(stateDir), sweepLeftovers(stateDir, true)]);
  const interrupted = journals.flatMap((j) => ("broken" in j ? [`unreadable journal ${j.file}`] : j.alive ? [] : [describeInterrupted(j.record)]));
  return { interrupted, leftovers, leftoverBytes: await bytesUnder(leftovers) };
}

/** Bytes under `paths` (what `state list` and doctor report as reclaimable). */
export async function bytesUnder(paths: string[]): Promise<number> {
  let total = 0;
  const walk = async (p: string): Promise<void> => {
    const s = await lstat(p).catch(() => undefined);
    if (!s) return;
    if (!s.isDirectory()) {
      total += s.blocks * 512;
      return;
    }
    for (const e of await readdir(p).catch(() => [] as string[])) await walk(join(p, e));
  };
  for (const p of paths) await walk(p);
  return total;
}
