#!/usr/bin/env bun
/**
 * Workspace persistence benchmark (src/core/session/workspace), figures next to a baseline measured
 * in the same run, with the ratio:
 *
 *  1. full push of a WS_BENCH_FILES (default 10,000) file tree of WS_BENCH_MB (default 256) MiB of
 *     incompressible data to a local s3rver, against `tar c DIR |` one multipart upload through
 *     @aws-sdk/client-s3 (hand-rolled with lib-storage's defaults, 5 MiB parts and 4 in flight:
 *     @aws-sdk/lib-storage is not a dependency) of the same tree.
 *     ratio = baseline time / push time (target ≥ 0.8).
 *  2. re-push after one file changed (target < 1 s), against the same baseline (a tar upload has no
 *     incremental mode).
 *  3. the same two with encryption (WS_BENCH_ENCRYPTED=0 to skip).
 *
 *   bun bench/session-workspace.ts
 *   WS_BENCH_MB=1024 bun bench/session-workspace.ts
 * Everything binds 127.0.0.1; the tree lives under WS_BENCH_DIR (default /var/tmp).
 */
import { AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, S3Client, UploadPartCommand } from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { openRelay } from "../providers/relay/index.ts";
import { deriveWorkspaceKey, pushWorkspace } from "../src/core/session/workspace/index.ts";
import { systemExec } from "../src/platform/exec.ts";
import { startS3Server } from "../test/support/s3-server.ts";

const MiB = 1 << 20;
const MB = Number(process.env.WS_BENCH_MB ?? 256);
const FILES = Number(process.env.WS_BENCH_FILES ?? 10_000);
const ENCRYPTED = process.env.WS_BENCH_ENCRYPTED !== "0";
const work = mkdtempSync(join(process.env.WS_BENCH_DIR ?? "/var/tmp", "devx-bench-ws-"));
const tree = join(work, "tree");

/** FILES files in 100-file directories, log-uniform sizes (100 B … 4 MiB) scaled to MB MiB. */
function makeTree(): { bytes: number } {
  const raw = Array.from({ length: FILES }, () => Math.exp(Math.log(100) + Math.random() * (Math.log(4 * MiB) - Math.log(100))));
  const scale = (MB * MiB) / raw.reduce((a, b) => a + b, 0);
  const pool = randomBytes(16 * MiB);
  let bytes = 0;
  for (let i = 0; i < FILES; i++) {
    const d = join(tree, `d${Math.floor(i / 100)}`);
    if (i % 100 === 0) mkdirSync(d, { recursive: true });
    const size = Math.max(1, Math.round(raw[i]! * scale));
    const out = Buffer.allocUnsafe(size);
    let off = 0;
    while (off < size) {
      const start = Math.floor(Math.random() * (pool.length - 1));
      off += pool.copy(out, off, start, Math.min(pool.length, start + size - off));
    }
    out.writeUInt32BE(i, 0 < size - 4 ? 0 : 0); // unique contents: no accidental dedupe
    writeFileSync(join(d, `f${i}.bin`), out);
    bytes += size;
  }
  return { bytes };
}

async function main() {
  console.log(`building ${FILES} files, ${MB} MiB under ${tree} …`);
  const { bytes } = makeTree();
  // warm the page cache for both contenders
  Bun.spawnSync(["sh", "-c", `tar c -C '${tree}' . > /dev/null`]);
  await using server = await startS3Server();
  const env = { AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey };
  const client = new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });

  /** `tar c DIR |` multipart upload with @aws-sdk/lib-storage's defaults: 5 MiB parts, 4 in flight. */
  async function tarUpload(key: string): Promise<number> {
    const t0 = performance.now();
    const tar = Bun.spawn(["tar", "c", "-C", tree, "."], { stdout: "pipe" });
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: server.bucket, Key: key }));
    const parts: Array<{ PartNumber: number; ETag?: string }> = [];
    const inflight = new Set<Promise<void>>();
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let number = 0;
    const launch = (buf: Buffer) => {
      const PartNumber = ++number;
      const p: Promise<void> = client.send(new UploadPartCommand({ Bucket: server.bucket, Key: key, UploadId, PartNumber, Body: buf, ContentLength: buf.length })).then((r) => {
        parts.push({ PartNumber, ETag: r.ETag });
      });
      const tracked = p.finally(() => inflight.delete(tracked));
      inflight.add(tracked);
    };
    try {
      for await (const chunk of tar.stdout as unknown as AsyncIterable<Uint8Array>) {
        pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        pendingBytes += chunk.byteLength;
        if (pendingBytes >= 5 * MiB) {
          while (inflight.size >= 4) await Promise.race(inflight);
          launch(Buffer.concat(pending));
          pending = [];
          pendingBytes = 0;
        }
      }
      if (pendingBytes > 0 || number === 0) launch(Buffer.concat(pending));
      await Promise.all(inflight);
      if ((await tar.exited) !== 0) throw new Error("tar failed");
      parts.sort((a, b) => a.PartNumber - b.PartNumber);
      await client.send(new CompleteMultipartUploadCommand({ Bucket: server.bucket, Key: key, UploadId, MultipartUpload: { Parts: parts } }));
    } catch (e) {
      await client.send(new AbortMultipartUploadCommand({ Bucket: server.bucket, Key: key, UploadId })).catch(() => {});
      throw e;
    }
    return performance.now() - t0;
  }

  const relay = openRelay(`s3://${server.bucket}/ws`, { env, exec: systemExec, endpoint: server.endpoint, region: server.region });
  const timed = async <T>(fn: () => Promise<T>): Promise<[number, T]> => {
    const t0 = performance.now();
    const r = await fn();
    return [performance.now() - t0, r];
  };
  const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const rate = (ms: number) => `${((bytes / MiB) / (ms / 1000)).toFixed(1)} MiB/s`;

  const rows: string[] = [];
  const run = async (label: string, prefix: string, key?: Buffer) => {
    const base = await tarUpload(`tar-${prefix}.tar`);
    const [full, r1] = await timed(() => pushWorkspace(tree, relay, prefix, { key }));
    writeFileSync(join(tree, "d0", "f0.bin"), randomBytes(64 * 1024));
    const [again, r2] = await timed(() => pushWorkspace(tree, relay, prefix, { key }));
    rows.push(
      `${label}: full push ${fmt(full)} (${rate(full)}, ${r1.uploaded} objects) vs tar|multipart ${fmt(base)} (${rate(base)}): ratio ${(base / full).toFixed(2)} (target ≥ 0.8)`,
      `${label}: re-push after 1 file changed ${fmt(again)} (${r2.uploaded} object, ${r2.bytes} bytes) vs tar|multipart ${fmt(base)}: ratio ${(base / again).toFixed(1)}; target < 1 s: ${again < 1000 ? "met" : "MISSED"}`,
    );
  };
  await run("clear", "plain");
  if (ENCRYPTED) await run("encrypted", "enc", deriveWorkspaceKey(randomBytes(32), "bench"));
  console.log(`\n${FILES} files, ${(bytes / MiB).toFixed(0)} MiB, s3rver on 127.0.0.1, ${navigator.hardwareConcurrency} cores`);
  for (const r of rows) console.log(r);
}

try {
  await main();
} finally {
  rmSync(work, { recursive: true, force: true });
}
