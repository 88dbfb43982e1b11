import { describe, expect, test } from "bun:test";
import { createServer, connect, type Socket } from "node:net";
import { createHash, randomBytes } from "node:crypto";
import { pipeStream, yamuxOver, type YamuxStream } from "../../../src/protocol/bridge/yamux.ts";

/** A TCP pair on loopback: the adapter sees real socket chunking and backpressure. */
async function socketPair(): Promise<{ a: Socket; b: Socket; close(): void }> {
  let accepted!: (s: Socket) => void;
  const got = new Promise<Socket>((r) => (accepted = r));
  const server = createServer((s) => accepted(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const a = connect(port, "127.0.0.1");
  const b = await got;
  return { a, b, close: () => (a.destroy(), b.destroy(), server.close()) };
}

function readAll(stream: YamuxStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.addEventListener("message", (e) => chunks.push(Buffer.from(e.data.subarray())));
    stream.addEventListener("remoteCloseWrite", () => resolve(Buffer.concat(chunks)));
    stream.addEventListener("close", (e) => ((e as { error?: Error }).error ? reject((e as { error?: Error }).error) : resolve(Buffer.concat(chunks))));
  });
}

async function writeAll(stream: YamuxStream, data: Buffer): Promise<void> {
  for (let off = 0; off < data.length; off += 64 * 1024) {
    if (!stream.send(data.subarray(off, off + 64 * 1024))) await stream.onDrain();
  }
  await stream.close();
}

describe("yamux over a byte stream", () => {
  test("100 concurrent streams × 1 MB arrive byte-exact, echoed back", async () => {
    const { a, b, close } = await socketPair();
    const client = yamuxOver(a, "client");
    const server = yamuxOver(b, "server");
    // the server echoes every stream
    server.addEventListener("stream", (evt) => {
      const s = evt.detail;
      readAll(s).then((buf) => writeAll(s, buf));
    });
    const payloads = Array.from({ length: 100 }, () => randomBytes(1024 * 1024));
    const results = await Promise.all(
      payloads.map(async (p) => {
        const s = await client.createStream();
        const back = readAll(s);
        await writeAll(s, p);
        return back;
      }),
    );
    for (let i = 0; i < payloads.length; i++) {
      expect(results[i]!.length).toBe(payloads[i]!.length);
      expect(createHash("sha256").update(results[i]!).digest("hex")).toBe(createHash("sha256").update(payloads[i]!).digest("hex"));
    }
    close();
  }, 60_000);

  test("the remote side sees streams end when the transport dies", async () => {
    const { a, b, close } = await socketPair();
    const client = yamuxOver(a, "client");
    const server = yamuxOver(b, "server");
    const remote = new Promise<YamuxStream>((r) => server.addEventListener("stream", (e) => r(e.detail)));
    const s = await client.createStream();
    s.send(new TextEncoder().encode("x"));
    const rs = await remote;
    const ended = new Promise<void>((r) => rs.addEventListener("close", () => r()));
    a.destroy();
    await ended;
    expect(rs.status).not.toBe("open");
    close();
  });

  test("pipeStream: a fast socket feeding a stream whose reader stalls is paused, not buffered", async () => {
    // session transport
    const t = await socketPair();
    const sender = yamuxOver(t.a, "server");
    const receiver = yamuxOver(t.b, "client");
    const remote = new Promise<YamuxStream>((r) => receiver.addEventListener("stream", (e) => r(e.detail)));
    // the socket whose bytes go into the stream, and the program writing into it as fast as it can
    const src = await socketPair();
    const stream = await sender.createStream();
    const piped = pipeStream(stream, src.b);
    const rs = await remote;
    // the far end reads slowly: one message every 10 ms, so window updates (and with them drain
    // events at the sender) keep coming, but far slower than the writer
    let received = 0;
    rs.addEventListener("message", (e) => {
      received += e.data.byteLength;
      // (after the dispatch: see pipeStream on pausing inside one)
      if (slow) queueMicrotask(() => rs.readStatus === "readable" && rs.pause());
    });
    let slow = true;
    const ticker = setInterval(() => rs.readStatus === "paused" && rs.resume(), 10);
    const chunk = Buffer.alloc(1024 * 1024, 1);
    let written = 0; // every byte handed to the socket, accepted at once or queued
    let maxQueued = 0;
    const deadline = Date.now() + 1500;
    while (Date.now() < deadline && written < 256 * 1024 * 1024) {
      const accepted = src.a.write(chunk);
      written += chunk.length;
      if (!accepted) {
        await new Promise<void>((r) => {
          const done = () => (clearTimeout(t2), src.a.off("drain", done), r());
          const t2 = setTimeout(done, 50);
          src.a.once("drain", done);
        });
      }
      maxQueued = Math.max(maxQueued, stream.writeBufferLength);
    }
    // the writer felt backpressure: the stream holds at most its 1 MiB mark plus the reads in flight
    expect(src.b.isPaused()).toBe(true);
    expect(maxQueued).toBeLessThan(8 * 1024 * 1024);
    expect(stream.writeBufferLength).toBeLessThan(8 * 1024 * 1024);
    expect(received).toBeLessThan(written);
    // and once the reader keeps up, every byte written arrives (however much was still in flight)
    slow = false;
    clearInterval(ticker);
    if (rs.readStatus === "paused") rs.resume();
    await new Promise<void>((r) => { const i = setInterval(() => received >= written && (clearInterval(i), r()), 10); });
    expect(received).toBe(written);
    src.close();
    t.close();
    await piped;
  }, 20_000);

  test("pipeStream: a slow reader behind the socket holds the stream back, without a reset, and gets every byte after the sender closes", async () => {
    const t = await socketPair();
    const sender = yamuxOver(t.a, "server");
    const receiver = yamuxOver(t.b, "client");
    const remote = new Promise<YamuxStream>((r) => receiver.addEventListener("stream", (e) => r(e.detail)));
    // the host app: reads in bursts (3 ms in every 24), so its socket fills and drains over and over
    const app = await socketPair();
    let got = 0;
    app.b.on("data", (d: Buffer) => (got += d.length));
    let tick = 0;
    const ticker = setInterval(() => (tick++ % 8 === 0 ? app.b.resume() : app.b.pause()), 3);
    const stream = await sender.createStream();
    const rs = await remote;
    let reset = false;
    rs.addEventListener("close", (e) => ((e as { error?: Error }).error ? (reset = true) : undefined));
    const piped = pipeStream(rs, app.a);
    const total = 48 * 1024 * 1024;
    await writeAll(stream, Buffer.alloc(total, 3));
    const deadline = Date.now() + 20_000;
    while (got < total && !reset && Date.now() < deadline) await Bun.sleep(10);
    clearInterval(ticker);
    expect({ reset, got }).toEqual({ reset: false, got: total });
    app.close();
    t.close();
    await piped;
  }, 30_000);
});
