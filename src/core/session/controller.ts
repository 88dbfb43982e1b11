import { randomBytes } from "node:crypto";
import type { SandboxSpec, SessionBackend } from "../../../providers/session/types.ts";
import { ConflictError, NotFoundError, PermissionError, UsageError, messageOf } from "../../errors.ts";
import type { Emit } from "../../events/types.ts";
import { RUNNER_EXIT } from "../../session/protocol/version.ts";
import { SESSION_ID, type SessionRecord, type SessionState, type TemplateRecord } from "./model.ts";
import type { SessionStore } from "./store/types.ts";

/**
 * The sessions' lifecycle, as one control plane (of possibly several sharing a store) runs it:
 *   create  → sandbox made, workspace filled (the session's own snapshot, else its template's),
 *             runner started with a fresh secret → running
 *   stop    → runner stopped → workspace pushed and verified → sandbox removed → stopped;
 *             a push that fails or cannot be verified keeps the sandbox (persist-failed) and is
 *             retried by the watch loop: nothing is deleted before a verified push
 *   start   → sandbox made again, workspace pulled from the bucket → running
 *   watch   → a runner that stopped itself (idle, max lifetime) is persisted and removed the same
 *             way; persist-failed pushes are retried; sandboxes no record knows are adopted
 * Every transition is a compare-and-set on the record, under a lease on the session, so two
 * replicas never run the same step twice.
 */
export interface WorkspacePersistence {
  /** the workspace lives on in the backend's volume (no bucket): stop removes the sandbox but keeps it */
  readonly keepsWorkspace?: boolean;
  /**
   * fill `dir` (empty) from the snapshot at `prefix`; false when there is none. `minSeq`: the
   * snapshot last pushed, so a stale listing cannot roll the workspace back (then none is an error)
   */
  pull(prefix: string, dir: string, opts?: { minSeq?: number }): Promise<boolean>;
  /** push `dir` to `prefix` and verify what landed; throws when it could not be verified */
  push(prefix: string, dir: string): Promise<{ files: number; bytes: number; seq?: number }>;
  /** remove the snapshot at `prefix` (a deleted session) */
  remove(prefix: string): Promise<void>;
}

export interface ControllerDeps {
  store: SessionStore;
  backend: SessionBackend;
  persistence: WorkspacePersistence;
  emit: Emit;
  /** this replica's name in leases */
  holder: string;
  now(): Date;
  /** where workspaces live in the bucket (`<prefix>-<session>`) */
  bucketPrefix: string;
  /** push a running session's workspace this often (a checkpoint: a crash loses at most this much); unset: only at stop */
  checkpointEveryMs?: number;
}

export interface CreateRequest {
  owner: string;
  template: string;
  name?: string;
  limits?: Partial<SessionRecord["limits"]>;
  egress?: boolean;
  idleMinutes?: number;
  maxHours?: number;
}

/** states the watch loop looks after: a sandbox that is (or was) running and not yet wound down */
const winding = (x: SessionRecord | undefined): x is SessionRecord => x !== undefined && (x.state === "running" || x.state === "persist-failed" || x.state === "stopping" || x.state === "persisting");

export const DEFAULTS = { limits: { cpus: 2, memoryMiB: 2048, pids: 1024 }, egress: true, idleMinutes: 30, maxHours: 12 };
const LEASE_MS = 10 * 60_000;
/** how long a request waits for another operation on the same session (a checkpoint, a start) */
const LEASE_WAIT_MS = 60_000;

export class SessionController {
  constructor(readonly d: ControllerDeps) {}

  async template(name: string): Promise<TemplateRecord> {
    const t = await this.d.store.getTemplate(name);
    if (!t) throw new NotFoundError(`no template named ${name}`, "see `devx session template ls`, or push one with `devx session template push DIR --name N --image IMAGE`");
    return t;
  }

  async get(id: string, user?: { name: string; admin: boolean }): Promise<SessionRecord> {
    const r = await this.d.store.getSession(id);
    // another user's session is "not found" to them: ids are not secrets, but they are not shared either
    if (!r || (user && !user.admin && r.owner !== user.name)) throw new NotFoundError(`no session ${id}`, "see `devx session ls`");
    return r;
  }

  async list(user?: { name: string; admin: boolean }): Promise<SessionRecord[]> {
    const all = await this.d.store.listSessions();
    return user && !user.admin ? all.filter((s) => s.owner === user.name) : all;
  }

  async create(req: CreateRequest): Promise<SessionRecord> {
    const t = await this.template(req.template);
    const id = req.name ?? `${t.name.replace(/[^a-z0-9-]/g, "-").slice(0, 20)}-${randomBytes(4).toString("hex")}`;
    if (!SESSION_ID.test(id)) throw new UsageError(`invalid session name "${id}"`, "use 3–41 lowercase letters, digits and dashes, starting with a letter or digit");
    const now = this.d.now().toISOString();
    const r: SessionRecord = {
      id,
      owner: req.owner,
      template: t.name,
      image: t.image,
      state: "creating",
      created: now,
      updated: now,
      secret: randomBytes(32).toString("hex"),
      // an absent limit (undefined) keeps its default rather than erase it
      limits: { ...DEFAULTS.limits, ...Object.fromEntries(Object.entries(req.limits ?? {}).filter(([, v]) => v !== undefined)) },
      egress: req.egress ?? DEFAULTS.egress,
      idleMinutes: req.idleMinutes ?? DEFAULTS.idleMinutes,
      maxHours: req.maxHours ?? DEFAULTS.maxHours,
      workspace: { prefix: `${this.d.bucketPrefix}-${id}` },
      publicPorts: [],
      version: 1,
    };
    await this.d.store.createSession(r);
    return this.bringUp(r, t);
  }

  async start(id: string, user?: { name: string; admin: boolean }): Promise<SessionRecord> {
    const r = await this.get(id, user);
    if (r.state === "running") return r;
    if (r.state !== "stopped" && r.state !== "failed") throw new ConflictError(`session ${id} is ${r.state}`, r.state === "persist-failed" ? "its workspace could not be saved yet: the control plane retries; see `devx session logs`" : "wait until it has stopped");
    return this.bringUp(r, await this.d.store.getTemplate(r.template));
  }

  /** sandbox, workspace, runner: from creating/stopped/failed to running */
  private async bringUp(r: SessionRecord, t: TemplateRecord | undefined): Promise<SessionRecord> {
    return this.leased(r.id, async () => {
      // as it is now: a checkpoint may have updated it while this waited for the lease
      const now = (await this.d.store.getSession(r.id)) ?? r;
      if (now.state === "running") return now;
      let cur = await this.transition(now, { state: "starting", detail: undefined });
      const { backend, persistence } = this.d;
      try {
        await backend.create(this.spec(cur));
        const dir = await backend.workspaceDir(cur.id);
        const had = await persistence.pull(cur.workspace.prefix, dir, { minSeq: cur.workspace.lastPushSeq });
        if (!had && t?.prefix) await persistence.pull(t.prefix, dir);
        // a fresh secret per start: tokens of an earlier run of this session are worthless now
        cur = await this.transition(cur, { secret: randomBytes(32).toString("hex") });
        const { runnerUrl } = await backend.start(cur.id, cur.secret);
        return await this.transition(cur, { state: "running", runner: { url: runnerUrl } });
      } catch (e) {
        this.d.emit({ type: "warning", message: `session ${cur.id} could not start: ${messageOf(e)}` });
        // the workspace stays (its snapshot in the bucket is untouched): only the sandbox goes
        await backend.remove(cur.id, { keepWorkspace: true }).catch(() => {});
        cur = await this.transition(cur, { state: "failed", detail: messageOf(e), runner: undefined });
        throw e;
      }
    });
  }

  /** running → stopped with the workspace saved; persist-failed keeps the sandbox */
  async stop(id: string, user?: { name: string; admin: boolean }, why = "stopped on request"): Promise<SessionRecord> {
    const r = await this.get(id, user);
    if (r.state === "stopped") return r;
    return this.leased(id, async () => {
      // as it is now: a checkpoint may have updated it while this waited for the lease
      const now = (await this.d.store.getSession(id)) ?? r;
      return now.state === "stopped" ? now : this.persistAndRemove(now, why);
    });
  }

  private async persistAndRemove(r: SessionRecord, why: string): Promise<SessionRecord> {
    let cur = r.state === "persist-failed" || r.state === "persisting" ? r : await this.transition(r, { state: "stopping", detail: why });
    await this.d.backend.stop(cur.id);
    cur = await this.transition(cur, { state: "persisting", runner: undefined });
    let pushed: { files: number; bytes: number; seq?: number };
    try {
      // with the volume as the only copy there is nothing to push (and a sandbox found without its volume still winds down)
      pushed = this.d.persistence.keepsWorkspace ? { files: 0, bytes: 0 } : await this.d.persistence.push(cur.workspace.prefix, await this.d.backend.workspaceDir(cur.id));
    } catch (e) {
      this.d.emit({ type: "warning", message: `session ${cur.id}: saving its workspace failed (${messageOf(e)}); the sandbox is kept and the push retried` });
      return this.transition(cur, { state: "persist-failed", detail: `saving the workspace failed: ${messageOf(e)}` });
    }
    await this.d.backend.remove(cur.id, { keepWorkspace: this.d.persistence.keepsWorkspace === true });
    return this.transition(cur, { state: "stopped", detail: why, workspace: this.pushed(cur, pushed) });
  }

  /** Remove a session for good: its sandbox, workspace snapshot and record. */
  async remove(id: string, user?: { name: string; admin: boolean }): Promise<void> {
    const r = await this.get(id, user);
    await this.leased(id, async () => {
      await this.transition((await this.d.store.getSession(id)) ?? r, { state: "deleting" });
      await this.d.backend.remove(id);
      await this.d.persistence.remove(r.workspace.prefix);
      await this.d.store.deleteSession(id);
    });
  }

  async setPreview(id: string, port: number, isPublic: boolean, user?: { name: string; admin: boolean }): Promise<SessionRecord> {
    const r = await this.get(id, user);
    const ports = new Set(r.publicPorts);
    if (isPublic) ports.add(port);
    else ports.delete(port);
    return this.transition(r, { publicPorts: [...ports].sort((a, b) => a - b) });
  }

  /**
   * One pass of the watch loop: runners that stopped on their own (idle, lifetime, a crash) are
   * persisted and removed; persist-failed sessions retry; sandboxes without a record are adopted.
   */
  async watch(): Promise<void> {
    const records = await this.d.store.listSessions();
    const known = new Set(records.map((r) => r.id));
    for (const r of records) {
      if (!winding(r)) continue;
      const info = await this.d.backend.inspect(r.id);
      if (r.state === "running" && info.state === "running") {
        if (this.checkpointDue(r)) await this.leasedIfFree(r.id, () => this.checkpoint(r.id));
        continue;
      }
      const why = info.exitCode === RUNNER_EXIT.idle ? "stopped: idle" : info.exitCode === RUNNER_EXIT.lifetime ? "stopped: maximum lifetime reached" : info.state === "missing" ? "its sandbox is gone" : `its runner exited (${info.exitCode ?? "?"})`;
      // under the lease, as the record is now: a stop or start may have finished since the listing
      if (info.state === "missing" && r.state === "running") {
        await this.leasedIfFree(r.id, async () => {
          const now = await this.d.store.getSession(r.id);
          if (now?.state === "running") await this.transition(now, { state: "failed", detail: why, runner: undefined });
        });
        continue;
      }
      await this.leasedIfFree(r.id, async () => {
        const now = await this.d.store.getSession(r.id);
        if (winding(now) && (now.state !== "running" || (await this.d.backend.inspect(r.id)).state !== "running")) await this.persistAndRemove(now, why);
      });
    }
    for (const s of await this.d.backend.list()) {
      if (known.has(s.session)) continue;
      await this.leasedIfFree(s.session, () => this.adopt(s.session));
    }
  }

  /** The record's workspace after a verified push (what start's pull must not fall behind). */
  private pushed(r: SessionRecord, p: { files: number; seq?: number }): SessionRecord["workspace"] {
    return { ...r.workspace, lastPush: this.d.now().toISOString(), lastPushFiles: p.files, ...(p.seq !== undefined ? { lastPushSeq: p.seq } : {}) };
  }

  private checkpointDue(r: SessionRecord): boolean {
    const every = this.d.checkpointEveryMs;
    if (!every || this.d.persistence.keepsWorkspace) return false;
    const since = Date.parse(r.workspace.lastPush ?? r.updated);
    return this.d.now().getTime() - since >= every;
  }

  /** Push a running session's workspace (its sandbox keeps running); a failure is reported and retried at the next pass. */
  private async checkpoint(id: string): Promise<void> {
    const r = await this.d.store.getSession(id);
    if (!r || r.state !== "running") return;
    try {
      const pushed = await this.d.persistence.push(r.workspace.prefix, await this.d.backend.workspaceDir(id));
      await this.transition(r, { workspace: this.pushed(r, pushed) });
    } catch (e) {
      this.d.emit({ type: "warning", message: `session ${id}: checkpoint of its workspace failed (${messageOf(e)}); retried at the next pass` });
    }
  }

  /** A sandbox no record knows (the store was lost, or a create died half-way): saved, recorded as stopped, removed. */
  private async adopt(session: string): Promise<void> {
    const now = this.d.now().toISOString();
    const prefix = `${this.d.bucketPrefix}-${session}`;
    const r: SessionRecord = { id: session, owner: "(adopted)", template: "(unknown)", image: "", state: "persisting", detail: "adopted: found without a record", created: now, updated: now, secret: randomBytes(32).toString("hex"), limits: DEFAULTS.limits, egress: DEFAULTS.egress, idleMinutes: DEFAULTS.idleMinutes, maxHours: DEFAULTS.maxHours, workspace: { prefix }, publicPorts: [], version: 1 };
    // only a sandbox that still has no record: one created since the pass began (a create under
    // way on this or another replica) has one now, and is not ours to stop
    try {
      await this.d.store.createSession(r);
    } catch {
      return;
    }
    await this.persistAndRemove(r, "adopted: found without a record");
  }

  private spec(r: SessionRecord): SandboxSpec {
    return { session: r.id, image: r.image, limits: r.limits, egress: r.egress, idleMinutes: r.idleMinutes, maxHours: r.maxHours, publicPorts: r.publicPorts, labels: { "devx.owner": r.owner.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 63) } };
  }

  /** Write `patch` over `r` if nobody wrote since `r` was read. */
  private async transition(r: SessionRecord, patch: Partial<SessionRecord> & { state?: SessionState }): Promise<SessionRecord> {
    const next: SessionRecord = { ...r, ...patch, updated: this.d.now().toISOString(), version: r.version + 1 };
    if (!(await this.d.store.replaceSession(next))) throw new ConflictError(`session ${r.id} changed while it was being ${patch.state ?? "updated"}`, "try again");
    if (next.state !== r.state) this.d.emit({ type: "state", node: r.id, state: next.state, detail: next.detail ? { detail: next.detail } : undefined });
    return next;
  }

  /**
   * Run `fn` holding the session's lease. A request waits up to `waitMs` for a holder to finish (a
   * checkpoint under way should delay a stop, not fail it); the watch loop passes 0 and skips.
   */
  private async leased<T>(id: string, fn: () => Promise<T>, waitMs = LEASE_WAIT_MS): Promise<T> {
    // one holder per operation, not per replica: two requests on one control plane exclude each other too
    const holder = `${this.d.holder}/${randomBytes(6).toString("hex")}`;
    const deadline = Date.now() + waitMs;
    while (!(await this.d.store.acquireLease(`session:${id}`, holder, LEASE_MS))) {
      if (Date.now() >= deadline) throw new ConflictError(`session ${id} is being changed right now`, "try again in a moment");
      await Bun.sleep(100);
    }
    try {
      return await fn();
    } finally {
      await this.d.store.releaseLease(`session:${id}`, holder);
    }
  }

  private async leasedIfFree(id: string, fn: () => Promise<unknown>): Promise<void> {
    try {
      await this.leased(id, fn, 0);
    } catch (e) {
      if (!(e instanceof ConflictError)) this.d.emit({ type: "warning", message: `session ${id}: ${messageOf(e)}` });
    }
  }
}

export function requireWrite(scopes: ReadonlySet<string>): void {
  if (!scopes.has("sessions:write") && !scopes.has("sessions:admin")) throw new PermissionError("this credential may only read sessions", "use a token with the sessions:write scope");
}
