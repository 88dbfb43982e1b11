import { randomBytes } from "node:crypto";
import { readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { writeFileDurable } from "../../platform/durable.ts";
import { sameProcessAlive, selfIdentity } from "../../platform/process.ts";

/**
 * A small write-ahead record of one state operation (attach, restore, undo, checkpoint, share),
 * under <state>/journal/. It is written (fsync'd, renamed into place) *before* each step that
 * changes this machine, so that whatever ends devx — SIGKILL, OOM, power, a closed lid — the next
 * devx knows what was stopped, which restore point was being taken or applied, and what to do to
 * end exactly as before the operation (or, where the apply had finished, as after it).
 * See recover.ts for what each phase means when the owner is gone.
 */
export type JournalOp = "attach" | "restore" | "undo" | "checkpoint" | "db-snapshot" | "share";

export type Phase =
  /** containers being checkpointed/stopped for a capture (checkpoint, share, or a restore point) */
  | "capture"
  /** the restore point is complete; the apply has started (or is about to) */
  | "apply"
  /** the apply failed; returning to the restore point */
  | "rollback"
  /** the apply and its checks are done; only clean-up is left */
  | "applied"
  /** returning to a restore point on request (`state undo`) */
  | "undo";

export interface JournalRecord {
  v: 1;
  op: JournalOp;
  /** what the user asked for, for messages: "bundle x.devx", "checkpoint before-demo" */
  source: string;
  project?: string;
  pid: number;
  /** the owner's start time (platform/process): a reused PID is not the owner */
  start?: string;
  started: string;
  phase: Phase;
  /** the last step begun, for the message after a crash */
  step?: string;
  /** containers this operation stopped, to run again if it ends before its apply */
  stopped: Array<{ name: string; checkpointed: boolean }>;
  /** the restore point being taken (phase capture) or returned to (apply, rollback, undo) */
  restorePoint?: string;
  /** a capture's output directory or a download's staging directory: removed if unfinished */
  scratch: string[];
}

export const journalDir = (stateDir: string) => join(stateDir, "journal");

export class Journal {
  private constructor(
    readonly file: string,
    readonly record: JournalRecord,
  ) {}

  static async begin(stateDir: string, fields: Pick<JournalRecord, "op" | "source" | "project"> & Partial<JournalRecord>): Promise<Journal> {
    const me = selfIdentity();
    const record: JournalRecord = { v: 1, phase: "capture", stopped: [], scratch: [], ...fields, pid: me.pid, start: me.start, started: new Date().toISOString() };
    const j = new Journal(join(journalDir(stateDir), `${fields.op}-${me.pid}-${randomBytes(4).toString("hex")}.json`), record);
    await j.save();
    return j;
  }

  /** Record `change` durably before the step it announces runs. */
  async update(change: (r: JournalRecord) => void): Promise<void> {
    change(this.record);
    await this.save();
  }

  /** The operation ended (done, rolled back, or recovered): nothing is left to finish. */
  async close(): Promise<void> {
    await rm(this.file, { force: true });
  }

  private save(): Promise<void> {
    return writeFileDurable(this.file, JSON.stringify(this.record, null, 2) + "\n");
  }

  /** A journal left by a devx that is gone, taken over by recovery. */
  static adopt(file: string, record: JournalRecord): Journal {
    return new Journal(file, record);
  }
}

export interface FoundJournal {
  file: string;
  record: JournalRecord;
  /** its owner is still running (another devx working right now) */
  alive: boolean;
}

/** Every journal under the state dir; unreadable ones (torn writes cannot happen, but a user may edit) are reported as such. */
export async function listJournals(stateDir: string): Promise<Array<FoundJournal | { file: string; broken: string }>> {
  const dir = journalDir(stateDir);
  const out: Array<FoundJournal | { file: string; broken: string }> = [];
  for (const f of (await readdir(dir).catch(() => [] as string[])).sort()) {
    if (!f.endsWith(".json")) continue;
    const file = join(dir, f);
    try {
      const record = JSON.parse(await readFile(file, "utf8")) as JournalRecord;
      if (record.v !== 1 || typeof record.pid !== "number") throw new Error("not a devx journal");
      out.push({ file, record, alive: sameProcessAlive(record.pid, record.start) });
    } catch (e) {
      out.push({ file, broken: (e as Error).message });
    }
  }
  return out;
}
