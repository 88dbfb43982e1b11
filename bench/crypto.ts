/**
 * Throughput of the devx bundle AEAD streams (chunked AES-256-GCM through node:stream, 1 MiB
 * chunks) next to two baselines measured in the same run, interleaved with them:
 *
 * - raw node:crypto GCM: no stream, no framing. One cipher (createCipheriv/createDecipheriv,
 *   setAAD, final, getAuthTag/setAuthTag) per 1 MiB chunk, fed the same 64 KiB input pieces the
 *   streams get, outputs dropped. Target: each stream >= 90% of it (issue 18).
 * - `openssl speed -evp aes-256-gcm` (16384-byte column), for context.
 *
 * A third figure, one cipher for the whole input, shows what the per-chunk createCipheriv + final
 * costs (a floor the format itself sets, not the stream).
 *
 * `openssl speed` counts CPU time, so everything is measured the same way: bytes per CPU-second of
 * this process (user + system, every thread), which also keeps the ratios meaningful on a shared,
 * loaded machine. Wall-clock rates are printed alongside. Every figure is the best of several
 * interleaved runs (the JIT, the allocator and a shared VM need them to settle).
 *
 *   bun bench/crypto.ts [MiB per run = 64] [runs = 16]
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createDecryptStream, createEncryptStream, HEADER_LEN, parseHeader, TAG_LEN, unlockHeader } from "../src/core/state/bundle/crypto.ts";

const MiB = 1 << 20;
const CHUNK = MiB;
const size = Number(process.argv[2] ?? 64) * MiB;
const runs = Number(process.argv[3] ?? 16);
const PASS = "abacus-zoom-radar-yolk";
// 64 KiB pieces, each its own buffer, as a pipe, a file read or a socket delivers them
const PIECE = 64 * 1024;
const TARGET = 0.9;

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
async function seconds(fn: () => unknown): Promise<{ cpu: number; wall: number }> {
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

const plain = randomBytes(size);
const plainPieces = inPieces(plain);
const bundleParts: Buffer[] = [];
await pipeline(listSource(plainPieces), await createEncryptStream(PASS), sink(bundleParts));
const bundle = Buffer.concat(bundleParts);
const bundlePieces = inPieces(bundle);
// Attach checks the passphrase first, which leaves the key cached; share derives once before
// streaming. Either way PBKDF2 is not part of the streaming rate.
await unlockHeader(parseHeader(bundle), PASS);

// The raw baselines get the same work the streams do, minus the stream: the same plaintext pieces
// (chunk by chunk), the same frames' ciphertext in 64 KiB pieces and their tags, the same AAD.
const rawKey = randomBytes(32);
const aad = bundle.subarray(0, HEADER_LEN);
const chunks = size / CHUNK;
const rawFrames: { nonce: Buffer; ct: Buffer[]; tag: Buffer }[] = [];
for (let i = 0; i < chunks; i++) {
  const nonce = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", rawKey, nonce);
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(plain.subarray(i * CHUNK, (i + 1) * CHUNK)), c.final()]);
  rawFrames.push({ nonce, ct: inPieces(ct), tag: c.getAuthTag() });
}
const perChunk = CHUNK / PIECE;

function rawEncrypt(): void {
  const nonce = Buffer.alloc(12);
  for (let i = 0, p = 0; i < chunks; i++) {
    nonce.writeUInt32BE(i, 7);
    const c = createCipheriv("aes-256-gcm", rawKey, nonce, { authTagLength: TAG_LEN });
    c.setAAD(aad);
    for (const end = p + perChunk; p < end; p++) c.update(plainPieces[p]!);
    c.final();
    c.getAuthTag();
  }
}

function rawDecrypt(): void {
  for (const f of rawFrames) {
    const d = createDecipheriv("aes-256-gcm", rawKey, f.nonce, { authTagLength: TAG_LEN });
    d.setAAD(aad);
    d.setAuthTag(f.tag);
    for (const p of f.ct) d.update(p);
    d.final();
  }
}

function oneCipher(): void {
  const c = createCipheriv("aes-256-gcm", rawKey, randomBytes(12));
  for (const p of plainPieces) c.update(p);
  c.final();
}

type Key = "enc" | "dec" | "rawEnc" | "rawDec" | "one";
const cpu: Record<Key, number> = { enc: 0, dec: 0, rawEnc: 0, rawDec: 0, one: 0 };
const wall: Record<Key, number> = { enc: 0, dec: 0, rawEnc: 0, rawDec: 0, one: 0 };
let openssl = 0;
const record = (k: Key, t: { cpu: number; wall: number }) => {
  cpu[k] = Math.max(cpu[k], size / t.cpu);
  wall[k] = Math.max(wall[k], size / t.wall);
};
const load = loadavg()[0]!;
const round = async (r: number, measure: boolean) => {
  const enc = await createEncryptStream(PASS);
  const pairs: [Key, () => unknown][] = [
    ["rawEnc", rawEncrypt],
    ["enc", () => pipeline(listSource(plainPieces), enc, sink())],
    ["rawDec", rawDecrypt],
    ["dec", () => pipeline(listSource(bundlePieces), createDecryptStream(PASS), sink())],
    ["one", oneCipher],
  ];
  // alternate the order so neither side always runs on a heap the other just churned
  if (r % 2) pairs.reverse();
  let sys = 0;
  for (const [k, fn] of pairs) {
    const c0 = process.cpuUsage();
    const t = await seconds(fn);
    sys += process.cpuUsage(c0).system / 1e6;
    if (measure) record(k, t);
  }
  return sys;
};
// Warm up until the heap has settled: while the allocator is still getting its pages from the
// kernel, page faults (system time) cost many times the AES work and swamp every figure.
let warm = 0;
for (let calm = 0; warm < 60 && calm < 3; warm++) calm = (await round(warm, false)) < 0.002 ? calm + 1 : 0;
for (let r = 0; r < runs; r++) {
  await round(r, true);
  if (r % 4 === 0) openssl = Math.max(openssl, await opensslGcm());
}

const mbps = (bps: number) => `${(bps / 1e6).toFixed(0).padStart(5)} MB/s`;
const ratio = (a: number, b: number) => (a / b).toFixed(2);
console.log(`bundle AEAD, ${size / MiB} MiB per run in 64 KiB pieces, 1 MiB chunks, best of ${runs} after ${warm} warm-up rounds (load average ${load.toFixed(1)})`);
console.log(`                                         per CPU-second   wall clock`);
console.log(`  devx encrypt stream                    ${mbps(cpu.enc)}       ${mbps(wall.enc)}`);
console.log(`  raw node:crypto GCM encrypt            ${mbps(cpu.rawEnc)}       ${mbps(wall.rawEnc)}`);
console.log(`  devx decrypt stream                    ${mbps(cpu.dec)}       ${mbps(wall.dec)}`);
console.log(`  raw node:crypto GCM decrypt            ${mbps(cpu.rawDec)}       ${mbps(wall.rawDec)}`);
console.log(`  node:crypto GCM, one cipher for all    ${mbps(cpu.one)}       ${mbps(wall.one)}`);
console.log(`  openssl speed, 16 KiB                  ${mbps(openssl)}  (CPU time, context)`);
const re = cpu.enc / cpu.rawEnc;
const rd = cpu.dec / cpu.rawDec;
console.log(`encrypt stream/raw = ${ratio(cpu.enc, cpu.rawEnc)} (target ${TARGET.toFixed(2)}) ${re >= TARGET ? "ok" : "BELOW"}`);
console.log(`decrypt stream/raw = ${ratio(cpu.dec, cpu.rawDec)} (target ${TARGET.toFixed(2)}) ${rd >= TARGET ? "ok" : "BELOW"}`);
console.log(`raw per-chunk cipher/one cipher = ${ratio(cpu.rawEnc, cpu.one)} (what createCipheriv + final per 1 MiB chunk costs)`);
console.log(`encrypt/openssl = ${ratio(cpu.enc, openssl)}, decrypt/openssl = ${ratio(cpu.dec, openssl)}`);
