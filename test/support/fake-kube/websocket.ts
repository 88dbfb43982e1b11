import { createHash } from "node:crypto";
import type { Duplex } from "node:stream";

/**
 * A server-side WebSocket (RFC 6455) on the API server's own TLS connection, as a real API server
 * serves port-forward: one process terminates TLS and speaks WebSocket, with TCP backpressure both
 * ways (`pause()` stops reading the client). Bun.serve's ServerWebSocket cannot pause reading, and
 * reaching it needed one more loopback relay, which made the fake, not the code under test, the
 * bottleneck of every bulk transfer.
 */

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

export function acceptKey(key: string): string {
  return createHash("sha1").update(key + GUID).digest("base64");
}

export interface WsHandlers {
  message(data: Buffer): void;
  close(): void;
}

export class RawWebSocket<T> {
  /** received bytes not yet parsed: a frame is joined (one copy) only once all of it is here */
  private chunks: Buffer[] = [];
  private pending = 0;
  private fragments: Buffer[] = [];
  private closed = false;
  private handlers?: WsHandlers;
  /** set by the owner: called when the socket can take more after sendBinary returned -1 */
  onDrain?: () => void;

  constructor(
    private readonly socket: Duplex,
    public data: T,
  ) {
    socket.on("drain", () => this.onDrain?.());
  }

  /** Starts reading frames (after the 101 went out). */
  start(handlers: WsHandlers, rest: Buffer): void {
    this.handlers = handlers;
    this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
    const gone = () => this.finish();
    this.socket.on("close", gone);
    this.socket.on("error", gone);
    if (rest.length) this.onData(rest);
  }

  /** A binary message; -1 when the socket is over its mark (wait for onDrain), else the bytes queued. */
  sendBinary(payload: Uint8Array, prefix?: number): number {
    if (this.closed) return 0;
    const len = payload.length + (prefix === undefined ? 0 : 1);
    const head = Buffer.allocUnsafe(len < 126 ? 2 : len < 65536 ? 4 : 10);
    head[0] = 0x82;
    if (len < 126) {
      head[1] = len;
    } else if (len < 65536) {
      head[1] = 126;
      head.writeUInt16BE(len, 2);
    } else {
      head[1] = 127;
      head.writeBigUInt64BE(BigInt(len), 2);
    }
    // the channel byte rides with the header; the payload is written as it is (no copy)
    const first = prefix === undefined ? head : Buffer.concat([head, Buffer.of(prefix)]);
    this.socket.cork();
    this.socket.write(first);
    const ok = this.socket.write(payload);
    this.socket.uncork();
    return ok ? len : -1;
  }

  pause(): void {
    this.socket.pause();
  }
  resume(): void {
    this.socket.resume();
  }

  close(code = 1000): void {
    if (this.closed) return;
    const frame = Buffer.from([0x88, 2, code >> 8, code & 0xff]);
    this.socket.end(frame);
    this.finish();
  }

  terminate(): void {
    this.socket.destroy();
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.handlers?.close();
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.pending += chunk.length;
    while (!this.closed && this.pending >= 2) {
      // the header (at most 14 bytes) in the first chunk
      if (this.chunks[0]!.length < Math.min(14, this.pending)) this.chunks = [Buffer.concat(this.chunks)];
      const b = this.chunks[0]!;
      const fin = (b[0]! & 0x80) !== 0;
      const opcode = b[0]! & 0x0f;
      const masked = (b[1]! & 0x80) !== 0;
      let len = b[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      // clients must mask every frame (RFC 6455 5.1): a server closes on an unmasked one
      if (!masked) return this.close(1002);
      const need = off + 4 + len;
      if (this.pending < need) return;
      const whole = this.chunks.length === 1 ? b : Buffer.concat(this.chunks, this.pending);
      const rest = whole.subarray(need);
      this.chunks = rest.length ? [rest] : [];
      this.pending = rest.length;
      const payload = unmask(whole.subarray(off + 4, need), whole.subarray(off, off + 4));
      if (opcode === 0x8) return this.close(payload.length >= 2 ? payload.readUInt16BE(0) : 1000);
      if (opcode === 0x9) {
        this.socket.write(Buffer.concat([Buffer.from([0x8a, payload.length]), payload]));
        continue;
      }
      if (opcode === 0xa) continue;
      this.fragments.push(payload);
      if (!fin) continue;
      const msg = this.fragments.length === 1 ? this.fragments[0]! : Buffer.concat(this.fragments);
      this.fragments = [];
      this.handlers?.message(msg);
    }
  }
}

/** XOR with the 4-byte mask, in place (the frame's bytes are ours), a word at a time where aligned. */
function unmask(p: Buffer, mask: Buffer): Buffer {
  const n = p.length;
  let i = 0;
  // align to 4 bytes of the underlying buffer so a Uint32Array view is possible
  for (; i < n && (p.byteOffset + i) % 4 !== 0; i++) p[i] = p[i]! ^ mask[i & 3]!;
  const words = (n - i) >> 2;
  if (words > 0) {
    const rot = i & 3;
    const m = Buffer.from([mask[rot]!, mask[(rot + 1) & 3]!, mask[(rot + 2) & 3]!, mask[(rot + 3) & 3]!]).readUInt32LE(0);
    const view = new Uint32Array(p.buffer, p.byteOffset + i, words);
    for (let w = 0; w < words; w++) view[w] = view[w]! ^ m;
    i += words * 4;
  }
  for (; i < n; i++) p[i] = p[i]! ^ mask[i & 3]!;
  return p;
}
