import { createHash, randomBytes } from "node:crypto";
import { Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createDecryptStream, createEncryptStream } from "../../../src/core/state/bundle/crypto.ts";
import type { Relay } from "../../../providers/relay/types.ts";
import { systemExec } from "../../../src/platform/exec.ts";

export const MiB = 1 << 20;

/** `total` bytes of varied data, produced lazily in 256 KiB pieces (never held whole). */
export function source(total: number, onRead?: (sent: number) => void): { stream: Readable; sha256: () => string } {
  const block = randomBytes(256 * 1024);
  const hash = createHash("sha256");
  let sent = 0;
  let i = 0;
  const stream = new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      const n = Math.min(block.length, total - sent);
      const piece = Buffer.from(block.subarray(0, n));
      piece.writeUInt32BE(i++, 0);
      hash.update(piece);
      sent += n;
      onRead?.(sent);
      this.push(piece);
    },
  });
  return { stream, sha256: () => hash.digest("hex") };
}

export function hashSink(): { stream: Writable; result: () => { sha256: string; bytes: number } } {
  const hash = createHash("sha256");
  let bytes = 0;
  return {
    stream: new Writable({
      write(chunk: Buffer, _e, cb) {
        hash.update(chunk);
        bytes += chunk.length;
        cb();
      },
    }),
    result: () => ({ sha256: hash.digest("hex"), bytes }),
  };
}

/** Samples RSS while `fn` runs; returns the peak growth over the RSS at the start. */
export async function peakRssGrowth<T>(fn: () => Promise<T>): Promise<{ value: T; growthMiB: number }> {
  Bun.gc(true);
  const base = process.memoryUsage.rss();
  let peak = base;
  // Collect garbage while sampling, so the figure is live memory rather than the collector's slack.
  const timer = setInterval(() => {
    Bun.gc(false);
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 25);
  try {
    const value = await fn();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { value, growthMiB: (peak - base) / MiB };
  } finally {
    clearInterval(timer);
  }
}

export const PASS = "abacus-zoom-radar-yolk";

/** encrypt → relay.put, then relay.get → decrypt; returns both hashes and byte counts. */
export async function roundTrip(relay: Relay, object: string, total: number) {
  let putProgress = 0;
  // how far reading the source ran ahead of what the relay had stored: the upload's buffering
  let maxAhead = 0;
  const src = source(total, (sent) => (maxAhead = Math.max(maxAhead, sent - putProgress)));
  const enc = await createEncryptStream(PASS, { iterations: 1000 });
  const put = await relay.put(object, src.stream.pipe(enc), { onProgress: (b) => (putProgress = b) });
  const got = await relay.get(object, { onProgress: () => {} });
  const sink = hashSink();
  await pipeline(got.body, createDecryptStream(PASS, { allowWeakIterations: true }), sink.stream);
  return { sent: src.sha256(), received: sink.result(), put, putProgress, size: got.size, maxAheadMiB: maxAhead / MiB };
}

export const relayOptions = (env: Record<string, string | undefined> = {}) => ({ env, exec: systemExec });

export function passthrough(): Transform {
  return new Transform({ transform: (c, _e, cb) => cb(null, c) });
}

/** An HTTP proxy on 127.0.0.1 that records "METHOD /path?query" of every request it forwards. */
export function recordingProxy(upstream: string): { endpoint: string; seen: string[]; stop(): void } {
  const seen: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const u = new URL(req.url);
      seen.push(`${req.method} ${u.pathname}${u.search}`);
      return fetch(`${upstream}${u.pathname}${u.search}`, { method: req.method, headers: req.headers, body: req.body, decompress: false } as RequestInit);
    },
  });
  return { endpoint: `http://127.0.0.1:${server.port}`, seen, stop: () => server.stop(true) };
}
