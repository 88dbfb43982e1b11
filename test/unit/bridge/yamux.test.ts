import { describe, expect, test } from "bun:test";
import { createServer, connect, type Socket } from "node:net";
import { createHash, randomBytes } from "node:crypto";
import { yamuxOver, type YamuxStream } from "../../../src/core/bridge/yamux.ts";

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
});
