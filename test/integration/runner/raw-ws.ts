import { connect, type Socket } from "node:net";
import { randomBytes } from "node:crypto";
import { RUNNER_FRAME_KINDS, decodeFrame } from "../../../src/session/protocol/index.ts";

/**
 * A WebSocket client on a bare TCP socket, for what a browser's client cannot do on purpose:
 * stop reading (a slow client), never answer pings (a dead one), and see the HTTP answer to a
 * refused upgrade.
 */
export async function rawUpgrade(port: number, path: string, headers: Record<string, string>): Promise<{ status: number; head: string; body: string; socket: Socket; rest: Buffer }> {
  const socket = connect(port, "127.0.0.1");
  await new Promise<void>((r, j) => {
    socket.once("connect", r);
    socket.once("error", j);
  });
  const lines = [`GET ${path} HTTP/1.1`, "Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade", `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}`, "Sec-WebSocket-Version: 13"];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  socket.write(`${lines.join("\r\n")}\r\n\r\n`);
  let buf = Buffer.alloc(0);
  for (;;) {
    const chunk: Buffer | null = await new Promise((r) => {
      const onData = (d: Buffer) => {
        socket.off("end", onEnd);
        r(d);
      };
      const onEnd = () => {
        socket.off("data", onData);
        r(null);
      };
      socket.once("data", onData);
      socket.once("end", onEnd);
    });
    if (chunk) buf = Buffer.concat([buf, chunk]);
    const end = buf.indexOf("\r\n\r\n");
    if (end < 0 && chunk) continue;
    const head = buf.subarray(0, end < 0 ? buf.length : end).toString();
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
    let rest = end < 0 ? Buffer.alloc(0) : buf.subarray(end + 4);
    let body = "";
    if (status !== 101) {
      const len = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0);
      while (rest.length < len) {
        const more = await new Promise<Buffer>((r) => socket.once("data", (d: Buffer) => r(d)));
        rest = Buffer.concat([rest, more]);
      }
      body = rest.toString();
      socket.destroy();
    }
    return { status, head, body, socket, rest };
  }
}

export class RawClient {
  messages: Record<string, unknown>[] = [];
  data = new Map<string, Buffer[]>();
  received = 0;
  closed?: number;
  pings = 0;
  private buf = Buffer.alloc(0);
  private nextId = 1;

  private constructor(
    readonly socket: Socket,
    rest: Buffer,
    private readonly autoPong: boolean,
  ) {
    socket.on("data", (d: Buffer) => this.feed(d));
    socket.on("close", () => (this.closed ??= -1));
    if (rest.length > 0) this.feed(rest);
  }

  static async open(port: number, token: string, o: { autoPong?: boolean } = {}): Promise<RawClient> {
    const r = await rawUpgrade(port, "/v1/session", { Authorization: `Bearer ${token}` });
    if (r.status !== 101) throw new Error(`upgrade refused: ${r.status} ${r.body}`);
    return new RawClient(r.socket, r.rest, o.autoPong ?? true);
  }

  /** Stop reading from the socket: the kernel buffers fill and the runner sees backpressure. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  sendText(s: string): void {
    this.write(1, Buffer.from(s));
  }

  sendBinary(b: Uint8Array): void {
    this.write(2, Buffer.from(b));
  }

  request(t: string, fields: Record<string, unknown> = {}): number {
    const id = this.nextId++;
    this.sendText(JSON.stringify({ t, id, ...fields }));
    return id;
  }

  bytes(kind: number, channel: number): Buffer {
    return Buffer.concat(this.data.get(`${kind}:${channel}`) ?? []);
  }

  /** The last frames of a channel (cheap enough to poll while megabytes arrive). */
  tail(kind: number, channel: number, frames = 2): string {
    return Buffer.concat((this.data.get(`${kind}:${channel}`) ?? []).slice(-frames)).toString();
  }

  private write(opcode: number, payload: Buffer): void {
    const mask = randomBytes(4);
    const len = payload.length;
    const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len]) : len < 65536 ? Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 0xff]) : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), bigLen(len)]);
    const masked = Buffer.alloc(len);
    for (let i = 0; i < len; i++) masked[i] = payload[i]! ^ mask[i % 4]!;
    this.socket.write(Buffer.concat([head, mask, masked]));
  }

  private feed(d: Buffer): void {
    this.received += d.length;
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      if (this.buf.length < 2) return;
      const opcode = this.buf[0]! & 0x0f;
      let len = this.buf[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (this.buf.length < off + len) return;
      const payload = this.buf.subarray(off, off + len);
      this.buf = this.buf.subarray(off + len);
      if (opcode === 1) this.messages.push(JSON.parse(payload.toString()));
      else if (opcode === 2) {
        const f = decodeFrame(new Uint8Array(payload), RUNNER_FRAME_KINDS);
        if (typeof f === "string") throw new Error(f);
        const key = `${f.kind}:${f.channel}`;
        const list = this.data.get(key) ?? [];
        list.push(Buffer.from(f.payload));
        this.data.set(key, list);
      } else if (opcode === 8) this.closed = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      else if (opcode === 9) {
        this.pings++;
        if (this.autoPong) this.write(10, Buffer.from(payload));
      }
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function bigLen(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}
