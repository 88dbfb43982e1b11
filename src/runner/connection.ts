import type { ServerWebSocket } from "bun";
import { CLOSE, FRAME, FRAME_HEADER, LIMITS, type ErrorCode, type TokenClaims } from "../session/protocol/index.ts";
import type { Upload } from "./files.ts";
import type { OutputChannel, Sink } from "./output.ts";
import type { Proc } from "./exec.ts";
import type { Watch } from "./watch.ts";

/**
 * One client socket. Inbound messages are handled strictly in arrival order: a message that needs
 * to wait (a disk write, a PTY that is not taking input) holds the ones behind it, which queue up
 * to LIMITS.maxInboundQueue bytes; a client that sends past that, or past an upload's credit, is
 * breaking the protocol and is disconnected (4000) rather than having anything dropped. Outbound,
 * the socket's buffered amount is the queue: above HIGH_WATER the connection is congested and
 * every producer feeding it (terminal and command output, file reads) stops until it drains below
 * LOW_WATER.
 */
export const HIGH_WATER = 1024 * 1024;
export const LOW_WATER = 256 * 1024;

export interface SessionSocketData {
  kind: "session";
  claims: TokenClaims;
  conn?: Connection;
}

export class RequestError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface UploadStream {
  upload: Upload;
  /** bytes the client announced, if it did */
  size?: number;
  /** bytes the client may have sent so far: the window plus every credit the runner has sent */
  allowed: number;
  /** bytes that have arrived for the stream (counted on arrival, before they are handled) */
  arrived: number;
}

export class Connection implements Sink {
  lastSeen = Date.now();
  closed = false;
  private queue: (string | Uint8Array)[] = [];
  private queuedBytes = 0;
  private busy = false;
  private isCongested = false;
  private waiters: (() => void)[] = [];
  /** output channels this connection is attached to, pumped when the socket drains */
  readonly channels = new Map<OutputChannel, () => void>();
  readonly uploads = new Map<number, UploadStream>();
  /** streams ended or failed recently: data already on its way for them is ignored, not an error */
  private readonly closedStreams = new Set<number>();
  readonly reads = new Map<number, { cancelled: boolean }>();
  readonly watches = new Map<number, Watch>();
  /** foreground commands started on this connection: they end with it */
  readonly owned = new Set<Proc>();

  constructor(
    readonly ws: ServerWebSocket<SessionSocketData>,
    readonly claims: TokenClaims,
    private readonly handle: (conn: Connection, msg: string | Uint8Array) => void | Promise<void>,
    readonly log: (line: string) => void,
  ) {}

  congested(): boolean {
    return this.isCongested;
  }

  send(frame: Uint8Array): void {
    if (this.closed) return;
    this.ws.send(frame);
    this.checkPressure();
  }

  sendJson(msg: object): void {
    if (this.closed) return;
    this.ws.send(JSON.stringify(msg));
    this.checkPressure();
  }

  reply(id: number, result: object): void {
    this.sendJson({ ...result, t: "ok", id });
  }

  error(id: number | undefined, code: ErrorCode, message: string): void {
    this.sendJson(id === undefined ? { t: "err", code, message } : { t: "err", id, code, message });
  }

  private checkPressure(): void {
    if (!this.isCongested && this.ws.getBufferedAmount() > HIGH_WATER) this.isCongested = true;
  }

  /** Resolves when the socket is below its high-water mark (at once when it is). */
  writable(): Promise<void> | undefined {
    if (!this.isCongested || this.closed) return undefined;
    return new Promise((r) => this.waiters.push(r));
  }

  onDrain(): void {
    if (!this.isCongested || this.ws.getBufferedAmount() > LOW_WATER) return;
    this.isCongested = false;
    for (const w of this.waiters.splice(0)) w();
    for (const pump of this.channels.values()) {
      if (this.isCongested) break;
      pump();
    }
  }

  attach(ch: OutputChannel): void {
    this.channels.set(ch, () => ch.pump(this));
  }

  detach(ch: OutputChannel): void {
    if (this.channels.delete(ch)) ch.detach(this);
  }

  onMessage(msg: string | Uint8Array): void {
    this.lastSeen = Date.now();
    if (this.closed) return;
    const size = typeof msg === "string" ? msg.length : msg.length;
    this.queuedBytes += size;
    if (this.queuedBytes > LIMITS.maxInboundQueue) {
      this.protocolError(`more than ${LIMITS.maxInboundQueue} bytes sent ahead of the runner (see flow control)`);
      return;
    }
    if (typeof msg !== "string" && msg.length >= FRAME_HEADER && msg[0] === FRAME.streamData && !this.countArrival(msg)) return;
    this.queue.push(msg);
    if (!this.busy) void this.run();
  }

  /**
   * Upload credit is checked when data arrives, against the credit already sent: the client
   * cannot have seen credit the runner has not sent yet, however far behind the handling is.
   */
  private countArrival(msg: Uint8Array): boolean {
    const channel = ((msg[1]! << 24) >>> 0) + (msg[2]! << 16) + (msg[3]! << 8) + msg[4]!;
    const u = this.uploads.get(channel);
    if (!u) {
      if (this.closedStreams.has(channel)) return false;
      this.protocolError(`stream data for ${channel}, which is not an open upload`);
      return false;
    }
    u.arrived += msg.length - FRAME_HEADER;
    if (u.arrived > u.allowed) {
      this.protocolError(`stream ${channel}: ${u.arrived} bytes sent, only ${u.allowed} granted`);
      return false;
    }
    return true;
  }

  /** Forget an upload; frames for it still in flight are dropped quietly. */
  endUpload(stream: number): void {
    this.uploads.delete(stream);
    this.closedStreams.add(stream);
    if (this.closedStreams.size > 256) this.closedStreams.delete(this.closedStreams.values().next().value!);
  }

  private async run(): Promise<void> {
    this.busy = true;
    try {
      while (this.queue.length > 0 && !this.closed) {
        const msg = this.queue.shift()!;
        this.queuedBytes -= typeof msg === "string" ? msg.length : msg.length;
        try {
          const r = this.handle(this, msg);
          // only work that must wait is awaited: a keystroke is handled in the tick it arrives
          if (r) await r;
        } catch (e) {
          this.log(`connection ${this.claims.sub}: ${(e as Error).stack ?? e}`);
          this.error(undefined, "internal", "internal error");
        }
      }
    } finally {
      this.busy = false;
    }
  }

  protocolError(message: string): void {
    this.error(undefined, "flow", message);
    this.close(CLOSE.protocolError, message.slice(0, 120));
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    try {
      this.ws.close(code, reason);
    } catch {
      /* already closing */
    }
    this.cleanup();
  }

  /** Everything the connection held, released; the terminals it watched keep running. */
  cleanup(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue.length = 0;
    for (const ch of this.channels.keys()) ch.detach(this);
    this.channels.clear();
    for (const u of this.uploads.values()) u.upload.abort();
    this.uploads.clear();
    for (const r of this.reads.values()) r.cancelled = true;
    this.reads.clear();
    for (const w of this.watches.values()) w.close();
    this.watches.clear();
    for (const w of this.waiters.splice(0)) w();
    for (const p of this.owned) void p.kill();
    this.owned.clear();
  }
}
