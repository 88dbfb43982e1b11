/**
 * Throughput of the devx bundle AEAD (chunked AES-256-GCM through node:stream, 1 MiB chunks)
 * next to `openssl speed -evp aes-256-gcm` (16384-byte column) measured in the same run, printed
 * as a ratio. Target: encryption ≥ 70% of openssl.
 *
 * `openssl speed` counts CPU time (user time; wall clock only with -elapsed), so devx is measured
 * the same way: bytes per CPU-second of this process (user + system, every thread), which also
 * keeps the ratio meaningful on a shared, loaded machine. Wall-clock rates are printed alongside.
 * Every figure is the best of several interleaved runs.
 *
 *   bun bench/crypto.ts [MiB per run = 64] [runs = 16]
 */
import { createCipheriv, randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createDecryptStream, createEncryptStream, parseHeader, unlockHeader } from "../src/core/state/bundle/crypto.ts";

const MiB = 1 << 20;
const size = Number(process.argv[2] ?? 64) * MiB;
const runs = Number(process.argv[3] ?? 16);
const PASS = "abacus-zoom-radar-yolk";
// 64 KiB pieces, each its own buffer, as a pipe, a file read or a socket delivers them
const PIECE = 64 * 1024;

function listSource(list: Buffer[]): Readable {
  let i = 0;
  return new Readable({
    highWaterMark: MiB,
    read() {
      this.push(i < list.length ? list[i++]! : null);
    },
  });
}

function sink(keep?: Buffer[]): Writable {
  return new Writable({
    highWaterMark: MiB,
    write(c: Buffer, _e, cb) {
      keep?.push(c);
      cb();
    },
  });
}

function inPieces(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += PIECE) out.push(Buffer.from(buf.subarray(i, i + PIECE)));
  return out;
}

/** CPU seconds (user + system) and wall seconds spent in `fn`. */
async function seconds(fn: () => Promise<unknown>): Promise<{ cpu: number; wall: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / 1e6, wall: (performance.now() - t0) / 1000 };
}

async function opensslGcm(): Promise<number> {
  const p = Bun.spawn(["openssl", "speed", "-evp", "aes-256-gcm", "-seconds", "1", "-bytes", "16384"], { stdout: "pipe", stderr: "ignore" });
  const out = await new Response(p.stdout).text();
  await p.exited;
  const lines = out.trim().split("\n");
  const header = lines.find((l) => l.startsWith("type"));
  const row = lines.find((l) => /^aes-256-gcm/i.test(l));
  if (!header || !row) throw new Error(`unexpected openssl speed output:\n${out}`);
  const col = header.split(/\s{2,}/).slice(1).findIndex((c) => c.trim() === "16384 bytes");
  const value = row.trim().split(/\s+/).slice(1)[col];
  if (!value) throw new Error(`no 16384-byte column in:\n${out}`);
  return Number.parseFloat(value) * 1000; // openssl prints 1000s of bytes per second
}

const plainPieces = inPieces(randomBytes(size));
const bundleParts: Buffer[] = [];
await pipeline(listSource(plainPieces), await createEncryptStream(PASS), sink(bundleParts));
const bundlePieces = inPieces(Buffer.concat(bundleParts));
// Attach checks the passphrase first, which leaves the key cached; share derives once before
// streaming. Either way PBKDF2 is not part of the streaming rate.
await unlockHeader(parseHeader(Buffer.concat(bundleParts.slice(0, 1))), PASS);
const rawKey = randomBytes(32);
const rawChunk = randomBytes(MiB);

const best = { enc: 0, dec: 0, raw: 0, openssl: 0 };
const wall = { enc: 0, dec: 0, raw: 0 };
const record = (k: "enc" | "dec" | "raw", t: { cpu: number; wall: number }) => {
  best[k] = Math.max(best[k], size / t.cpu);
  wall[k] = Math.max(wall[k], size / t.wall);
};
const load = loadavg()[0]!;
for (let r = 0; r < runs; r++) {
  const enc = await createEncryptStream(PASS);
  record("enc", await seconds(() => pipeline(listSource(plainPieces), enc, sink())));
  record("dec", await seconds(() => pipeline(listSource(bundlePieces), createDecryptStream(PASS), sink())));
  record(
    "raw",
    await seconds(async () => {
      for (let i = 0; i < size / MiB; i++) {
        const c = createCipheriv("aes-256-gcm", rawKey, randomBytes(12));
        c.update(rawChunk);
        c.final();
      }
    }),
  );
  if (r % 2 === 0) best.openssl = Math.max(best.openssl, await opensslGcm());
}

const mbps = (bps: number) => `${(bps / 1e6).toFixed(0).padStart(5)} MB/s`;
const pct = (x: number) => `${((x / best.openssl) * 100).toFixed(0)}%`;
console.log(`bundle AEAD, ${size / MiB} MiB per run in 64 KiB pieces, 1 MiB chunks, best of ${runs} (load average ${load.toFixed(1)})`);
console.log(`                             per CPU-second         wall clock`);
console.log(`  devx encrypt stream        ${mbps(best.enc)}  ${pct(best.enc).padStart(4)}   ${mbps(wall.enc)}`);
console.log(`  devx decrypt stream        ${mbps(best.dec)}  ${pct(best.dec).padStart(4)}   ${mbps(wall.dec)}`);
console.log(`  node:crypto GCM, no stream ${mbps(best.raw)}  ${pct(best.raw).padStart(4)}   ${mbps(wall.raw)}`);
console.log(`  openssl speed, 16 KiB      ${mbps(best.openssl)}  (baseline, CPU time)`);
console.log(`encrypt/openssl = ${pct(best.enc)} (target >= 70%), decrypt/openssl = ${pct(best.dec)}`);
