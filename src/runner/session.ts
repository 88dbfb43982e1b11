import { closeSync, constants, openSync, readlinkSync } from "node:fs";
import { CLOSE, verifyToken, type Scope, type StopReason, type VerifyResult } from "../session/protocol/index.ts";
import { Activity } from "./activity.ts";
import type { Connection } from "./connection.ts";
import { Procs } from "./exec.ts";
import { Files } from "./files.ts";
import { Terminals } from "./terminals.ts";
import { fsError, Workspace, WorkspaceError } from "./workspace.ts";

/**
 * The runner's state for its one session: workspace, terminals, commands, connected clients,
 * preview visibility, revoked tokens, and the clock that stops it. `stop` is the one way out:
 * clients are told why, every process tree is ended, then `done` resolves with the reason.
 */
export interface RunnerConfig {
  session: string;
  secret: Uint8Array;
  workspace: string;
  hostname: string;
  port: number;
  idleMs: number;
  maxLifetimeMs: number;
  idleWarnMs: number;
  heartbeatMs: number;
  heartbeatTimeoutMs: number;
  /** bytes of output kept per terminal for replay (at least 1 MiB) */
  scrollback: number;
  /** how far the slowest client may fall behind a terminal before its output is paused */
  maxLag: number;
  /** argv of a terminal opened without one */
  shell: string[];
  /** environment of terminals and commands (never holds the session secret) */
  env: Record<string, string>;
  publicPorts: number[];
  maxConnections: number;
  maxTerminals: number;
  maxProcs: number;
  killGraceMs: number;
  skewSeconds: number;
  log(line: string): void;
}

export const RUNNER_DEFAULTS = {
  hostname: "127.0.0.1",
  port: 7070,
  idleMs: 30 * 60_000,
  maxLifetimeMs: 12 * 3600_000,
  idleWarnMs: 60_000,
  heartbeatMs: 15_000,
  heartbeatTimeoutMs: 45_000,
  scrollback: 2 * 1024 * 1024,
  maxLag: 1024 * 1024,
  maxConnections: 64,
  maxTerminals: 32,
  maxProcs: 64,
  killGraceMs: 2000,
  skewSeconds: 30,
} as const;

const MAX_REVOKED = 10_000;

export class Session {
  readonly ws: Workspace;
  readonly files: Files;
  readonly terminals: Terminals;
  readonly procs: Procs;
  readonly activity: Activity;
  readonly connections = new Set<Connection>();
  /** preview sockets, closed when the session stops */
  readonly previewSockets = new Set<{ close(code?: number, reason?: string): void }>();
  readonly publicPorts: Set<number>;
  readonly done: Promise<StopReason>;
  stopping?: StopReason;
  private revoked = new Set<string>();
  private heartbeat?: ReturnType<typeof setInterval>;
  private resolveDone!: (r: StopReason) => void;

  constructor(readonly cfg: RunnerConfig) {
    this.ws = new Workspace(cfg.workspace);
    this.files = new Files(this.ws, () => this.activity.touch("write"));
    this.terminals = new Terminals({ scrollback: cfg.scrollback, maxLag: cfg.maxLag, maxTerminals: cfg.maxTerminals, keepExited: 16, killGraceMs: cfg.killGraceMs, log: cfg.log });
    this.procs = new Procs({ scrollback: 256 * 1024, maxLag: cfg.maxLag, maxProcs: cfg.maxProcs, keepExited: 32, killGraceMs: cfg.killGraceMs });
    this.publicPorts = new Set(cfg.publicPorts);
    this.done = new Promise((r) => (this.resolveDone = r));
    this.activity = new Activity({
      idleMs: cfg.idleMs,
      maxLifetimeMs: cfg.maxLifetimeMs,
      warnMs: cfg.idleWarnMs,
      busy: () => this.procs.runningForeground > 0,
      onWarn: (stopAt) => {
        for (const c of this.connections) c.sendJson({ t: "session.idle", stopAt });
      },
      onStop: (reason) => void this.stop(reason),
    });
  }

  start(): void {
    this.activity.start();
    this.heartbeat = setInterval(() => this.beat(), this.cfg.heartbeatMs);
  }

  log(line: string): void {
    this.cfg.log(line);
  }

  private beat(): void {
    const now = Date.now();
    for (const c of this.connections) {
      if (now - c.lastSeen > this.cfg.heartbeatTimeoutMs) {
        this.log(`connection of ${c.claims.sub}: no heartbeat for ${now - c.lastSeen} ms, closing`);
        c.close(CLOSE.heartbeatTimeout, "heartbeat timeout");
        this.connections.delete(c);
      } else {
        c.ws.ping();
      }
    }
  }

  verify(token: string | undefined | null, anyOf: readonly Scope[]): VerifyResult {
    return verifyToken(token, this.cfg.secret, { session: this.cfg.session, anyOf, skewSeconds: this.cfg.skewSeconds, isRevoked: (jti) => this.revoked.has(jti) });
  }

  /** Refuse these token ids from now on and close the sockets opened with them. */
  revoke(jtis: string[]): number {
    for (const j of jtis) if (this.revoked.size < MAX_REVOKED) this.revoked.add(j);
    let closed = 0;
    for (const c of this.connections) {
      if (this.revoked.has(c.claims.jti)) {
        c.close(CLOSE.revoked, "token revoked");
        this.connections.delete(c);
        closed++;
      }
    }
    return closed;
  }

  /** Environment for a terminal or command: the runner's child environment plus the client's additions. */
  childEnv(extra: Record<string, string>): Record<string, string> {
    return { ...this.cfg.env, ...extra, DEVX_SESSION: this.cfg.session };
  }

  /** The real path of a workspace directory named by a client (terminal and command cwd). */
  resolveDir(path: string): string {
    const r = this.ws.resolve(path, true);
    try {
      const fd = openSync(r.at, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
      try {
        return readlinkSync(`/proc/self/fd/${fd}`);
      } finally {
        closeSync(fd);
      }
    } catch (e) {
      if (e instanceof WorkspaceError) throw e;
      throw fsError(e, path);
    } finally {
      r.close();
    }
  }

  status() {
    return {
      session: this.cfg.session,
      startedAt: this.activity.startedAt,
      lastActivityAt: this.activity.lastActivityAt,
      lastActivity: this.activity.lastKind,
      idleStopAt: this.activity.idleStopAt,
      lifetimeStopAt: this.activity.lifetimeStopAt,
      stopping: this.stopping ?? null,
      connections: [...this.connections].map((c) => ({ user: c.claims.sub, jti: c.claims.jti, scopes: c.claims.scp })),
      terminals: this.terminals.list().map((t) => t.info()),
      procs: this.procs.list().map((p) => p.info()),
      publicPorts: [...this.publicPorts].sort((a, b) => a - b),
    };
  }

  /** Stop the session: tell every client why, end every process tree, then resolve `done`. */
  async stop(reason: StopReason): Promise<void> {
    if (this.stopping) return void (await this.done);
    this.stopping = reason;
    this.log(`stopping: ${reason}`);
    this.activity.stop();
    clearInterval(this.heartbeat);
    for (const c of this.connections) {
      c.sendJson({ t: "session.ending", reason });
      c.close(CLOSE.sessionEnding, `session ${reason}`);
    }
    this.connections.clear();
    for (const p of this.previewSockets) p.close(1001, "session ending");
    this.previewSockets.clear();
    await Promise.all([this.terminals.closeAll(), this.procs.killAll()]);
    this.resolveDone(reason);
  }
}

