import type { StopReason } from "../session/protocol/index.ts";

/**
 * When the session stops by itself. Activity is what a person or their work does: keystrokes,
 * starting terminals and commands, a foreground command still running, file writes, preview
 * traffic. An open socket, heartbeats, attaching, listing and reading files are not activity, so a
 * forgotten tab does not keep a sandbox (and its bill) alive. The session stops after `idleMs`
 * without activity, and in any case `maxLifetimeMs` after it started; `warnMs` before an idle stop
 * clients are told (any activity cancels it).
 */
export type ActivityKind = "input" | "command" | "terminal" | "write" | "preview";

export interface ActivityOptions {
  idleMs: number;
  maxLifetimeMs: number;
  warnMs: number;
  /** foreground work in progress counts as activity while it runs */
  busy(): boolean;
  onWarn(stopAt: number): void;
  onStop(reason: Extract<StopReason, "idle" | "lifetime">): void;
  now?: () => number;
}

export class Activity {
  readonly startedAt: number;
  lastActivityAt: number;
  lastKind: ActivityKind | "start" = "start";
  private timer?: ReturnType<typeof setInterval>;
  private warned = false;
  private readonly now: () => number;

  constructor(private readonly o: ActivityOptions) {
    this.now = o.now ?? Date.now;
    this.startedAt = this.now();
    this.lastActivityAt = this.startedAt;
  }

  touch(kind: ActivityKind): void {
    this.lastActivityAt = this.now();
    this.lastKind = kind;
    this.warned = false;
  }

  get idleStopAt(): number {
    return this.lastActivityAt + this.o.idleMs;
  }

  get lifetimeStopAt(): number {
    return this.startedAt + this.o.maxLifetimeMs;
  }

  start(): void {
    const every = Math.max(20, Math.min(1000, Math.floor(Math.min(this.o.idleMs, this.o.maxLifetimeMs) / 8)));
    this.timer = setInterval(() => this.check(), every);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  check(): void {
    const now = this.now();
    if (this.o.busy()) this.touch(this.lastKind === "start" ? "command" : this.lastKind);
    if (now >= this.lifetimeStopAt) return this.fire("lifetime");
    if (now >= this.idleStopAt) return this.fire("idle");
    if (!this.warned && now >= this.idleStopAt - this.o.warnMs) {
      this.warned = true;
      this.o.onWarn(this.idleStopAt);
    }
  }

  private fire(reason: "idle" | "lifetime"): void {
    this.stop();
    this.o.onStop(reason);
  }
}
