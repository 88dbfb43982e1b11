import { encodeFrame, LIMITS, type FrameKind } from "../session/protocol/index.ts";
import { cutAfter, cutBefore, Utf8Carry } from "./utf8.ts";

/**
 * One output stream (a terminal's output, a command's stdout or stderr) fanned out to the
 * connections attached to it, without ever dropping a byte:
 *
 * - every byte goes into a ring of blocks that keeps at least `scrollback` bytes for replay;
 * - each attached connection (a Sink) has a cursor; an up-to-date sink that is not congested gets
 *   new bytes at once, a congested one is skipped and catches up from the ring when its socket
 *   drains (the connection calls pump);
 * - the ring never evicts bytes an attached sink has not been sent, and when the slowest sink falls
 *   `maxLag` bytes behind the producer is paused (PTY output stopped, pipe no longer read) until
 *   every sink is within half of that. One slow client slows its terminal, never loses bytes.
 */
export interface Sink {
  /** the connection's socket is above its high-water mark */
  congested(): boolean;
  send(frame: Uint8Array): void;
}

interface Cursor {
  at: number;
  /** called once, after the last byte, when the stream has ended */
  onEnd?: () => void;
  ended: boolean;
}

const BLOCK = 64 * 1024;
const COALESCE_MS = 2;

export interface OutputOptions {
  kind: FrameKind;
  channel: number;
  scrollback: number;
  maxLag: number;
  pause(): void;
  resume(): void;
}

export class OutputChannel {
  private blocks: Uint8Array[] = [];
  /** absolute offset of blocks[0][0] */
  private base = 0;
  /** total bytes ever produced (absolute offset of the next byte) */
  end = 0;
  private sinks = new Map<Sink, Cursor>();
  private carry = new Utf8Carry();
  private ended = false;
  private urgent = false;
  private lastFlush = 0;
  private timer?: ReturnType<typeof setTimeout>;
  paused = false;

  constructor(private readonly o: OutputOptions) {}

  /** Oldest offset still held. */
  get start(): number {
    return this.base;
  }

  get attachedCount(): number {
    return this.sinks.size;
  }

  push(chunk: Uint8Array): void {
    const data = this.carry.push(chunk);
    if (data.length > 0) this.append(data);
  }

  /** The producer is done: deliver any held bytes, then each sink's onEnd after its last byte. */
  finish(): void {
    if (this.ended) return;
    const rest = this.carry.flush();
    if (rest.length > 0) this.store(rest);
    this.ended = true;
    this.flush(performance.now());
  }

  get finished(): boolean {
    return this.ended;
  }

  /**
   * Attach a sink: it gets the bytes from `since` (default: the oldest held) and then live output.
   * `truncated` says bytes before `from` were asked for but are gone from the ring.
   */
  attach(sink: Sink, since?: number, onEnd?: () => void): { from: number; truncated: boolean } {
    const want = since === undefined ? this.base : Math.min(since, this.end);
    let from = Math.max(want, this.base);
    // a replay starts on a character, also where the ring was cut or an offset points inside one
    if (from < this.end) from = cutAfter((i) => this.byteAt(i), from, this.end);
    // the caller pumps (after its reply, so the reply precedes the replayed bytes)
    this.sinks.set(sink, { at: from, onEnd, ended: false });
    return { from, truncated: since !== undefined && since < this.base };
  }

  detach(sink: Sink): void {
    if (!this.sinks.delete(sink)) return;
    this.evict();
    this.updateFlow();
  }

  /** Send what a sink has not had yet, until its socket is congested. Called on attach and on drain. */
  pump(sink: Sink): void {
    const c = this.sinks.get(sink);
    if (!c) return;
    while (c.at < this.end && !sink.congested()) {
      const limit = Math.min(this.end, c.at + LIMITS.maxOutFramePayload);
      const to = limit < this.end ? cutBefore((i) => this.byteAt(i), limit, c.at) : limit;
      sink.send(this.frameOf(c.at, to));
      c.at = to;
    }
    if (c.at === this.end && this.ended && !c.ended) {
      c.ended = true;
      c.onEnd?.();
    }
    this.evict();
    this.updateFlow();
  }

  /**
   * Input was just written to the producer: the output that answers it (an echo) is sent at once
   * rather than coalesced.
   */
  nudge(): void {
    this.urgent = true;
  }

  private append(data: Uint8Array): void {
    this.store(data);
    // A program streaming output in small writes (a line at a time) would cost one WebSocket
    // message per read; output is coalesced to one send per COALESCE_MS then. Output after a quiet
    // spell, or answering input, goes out in the tick it arrives.
    const now = performance.now();
    if (this.urgent || now - this.lastFlush >= COALESCE_MS) return this.flush(now);
    this.timer ??= setTimeout(() => this.flush(performance.now()), COALESCE_MS - (now - this.lastFlush));
    this.evict();
    this.updateFlow();
  }

  private flush(now: number): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.urgent = false;
    this.lastFlush = now;
    for (const sink of this.sinks.keys()) this.pump(sink);
    this.evict();
    this.updateFlow();
  }

  private store(data: Uint8Array): void {
    let i = 0;
    while (i < data.length) {
      const used = this.end - this.base - (this.blocks.length - 1) * BLOCK;
      let last = this.blocks[this.blocks.length - 1];
      let room = last ? BLOCK - used : 0;
      if (!last || room === 0) {
        last = new Uint8Array(BLOCK);
        this.blocks.push(last);
        room = BLOCK;
      }
      const n = Math.min(room, data.length - i);
      last.set(data.subarray(i, i + n), BLOCK - room);
      i += n;
      this.end += n;
    }
  }

  private byteAt(off: number): number {
    const rel = off - this.base;
    return this.blocks[Math.floor(rel / BLOCK)]![rel % BLOCK]!;
  }

  private frameOf(from: number, to: number): Uint8Array {
    const payload = new Uint8Array(to - from);
    let o = from;
    while (o < to) {
      const rel = o - this.base;
      const b = this.blocks[Math.floor(rel / BLOCK)]!;
      const at = rel % BLOCK;
      const n = Math.min(BLOCK - at, to - o);
      payload.set(b.subarray(at, at + n), o - from);
      o += n;
    }
    return encodeFrame(this.o.kind, this.o.channel, payload);
  }

  private slowest(): number {
    let min = this.end;
    for (const c of this.sinks.values()) min = Math.min(min, c.at);
    return min;
  }

  /** Drop whole blocks older than the scrollback, never ones a sink still has to be sent. */
  private evict(): void {
    const keepFrom = Math.min(this.end - this.o.scrollback, this.slowest());
    while (this.blocks.length > 1 && this.base + BLOCK <= keepFrom) {
      this.blocks.shift();
      this.base += BLOCK;
    }
  }

  private updateFlow(): void {
    if (this.ended) return;
    const lag = this.end - this.slowest();
    if (!this.paused && lag > this.o.maxLag) {
      this.paused = true;
      this.o.pause();
    } else if (this.paused && lag <= this.o.maxLag / 2) {
      this.paused = false;
      this.o.resume();
    }
  }

  /** Release the producer (used when the stream's owner goes away). */
  close(): void {
    clearTimeout(this.timer);
    this.sinks.clear();
    if (this.paused) {
      this.paused = false;
      this.o.resume();
    }
  }
}
