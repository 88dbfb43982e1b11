import { expect, test } from "bun:test";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { create } from "tar";
import { createEncryptStream, HEADER_LEN, TAG_LEN } from "../../../src/core/state/bundle/crypto.ts";
import { newObjectName } from "../../../src/core/state/bundle/share-id.ts";
import { downloadBundle } from "../../../src/core/state/bundle-io.ts";
import type { StateDeps } from "../../../src/core/state/state-deps.ts";
import { openRelay } from "../../../providers/relay/index.ts";
import { systemExec } from "../../../src/platform/exec.ts";
import { isDevxError } from "../../../src/errors.ts";
import { tarContentDigest } from "../../../src/core/state/digest.ts";
import { craftTar } from "../../support/bundle-craft.ts";

/**
 * Randomised: thousands of mutated bundles (flipped bytes, truncation, appended bytes, swapped,
 * dropped and duplicated chunks) go through attach's download-and-validate stage. Each must fail
 * with a typed integrity/truncation/passphrase error, never crash, and leave nothing behind.
 */
const CASES = Number(process.env.DEVX_FUZZ_CASES ?? 2000);
const PW = "abandon-ability-able-about";
const CHUNK = 4096;
const root = mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "fuzz-"));
const relayDir = join(root, "relay");
mkdirSync(relayDir);
const relay = openRelay(pathToFileURL(relayDir).href, { env: {}, exec: systemExec });
const sd = { emit: () => {}, stateDir: root } as unknown as StateDeps;

/** xorshift: reproducible cases (the seed is printed on failure) */
function rng(seed: number): () => number {
  let x = seed || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

test(`${CASES} mutated bundles never crash, never validate, never leave files`, async () => {
  const src = mkdtempSync(join(root, "src-"));
  const content = Buffer.alloc(40_000);
  for (let i = 0; i < content.length; i++) content[i] = (i * 7919) % 251;
  const body = craftTar([{ path: "data", body: content }]);
  mkdirSync(join(src, "volumes"));
  writeFileSync(join(src, "volumes", "v.tar"), body);
  writeFileSync(
    join(src, "manifest.json"),
    JSON.stringify({ formatVersion: 1, kind: "share", name: "x", created: new Date(0).toISOString(), mode: "db-only", host: { os: "linux", arch: "x64" }, runtime: { name: "podman", version: "4" }, containers: [], volumes: [{ name: "v", labels: {}, file: "volumes/v.tar", size: body.length, sha256: createHash("sha256").update(body).digest("hex"), contentDigest: await tarContentDigest(Readable.from([body])) }] }),
  );
  const good = join(root, "good");
  await pipeline(Readable.from(create({ cwd: src, portable: true }, ["manifest.json", "volumes/v.tar"]) as unknown as AsyncIterable<Buffer>), createGzip({ level: 0 }), await createEncryptStream(PW, { iterations: 100_000, chunkSize: CHUNK }), createWriteStream(good));
  const original = readFileSync(good);
  const frame = CHUNK + TAG_LEN;
  const chunks = Math.floor((original.length - HEADER_LEN) / frame);
  expect(chunks).toBeGreaterThan(3);
  const object = newObjectName();
  writeFileSync(join(relayDir, object), original);
  expect((await downloadBundle(sd, relay, object, join(root, "ok"), PW)).manifest.volumes).toHaveLength(1);

  const seed = Number(process.env.DEVX_FUZZ_SEED ?? Date.now() % 1_000_000);
  const r = rng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const kinds = new Map<string, number>();
  for (let i = 0; i < CASES; i++) {
    let b = Buffer.from(original);
    const op = int(6);
    if (op === 0) {
      const at = int(b.length);
      b[at] = b[at]! ^ (1 << int(8));
    }
    else if (op === 1) b = b.subarray(0, int(b.length));
    else if (op === 2) b = Buffer.concat([b, Buffer.from([int(256)]), Buffer.alloc(int(frame * 2), int(256))]);
    else {
      const c = (k: number) => b.subarray(HEADER_LEN + k * frame, HEADER_LEN + (k + 1) * frame);
      const x = int(chunks);
      const y = (x + 1 + int(chunks - 1)) % chunks;
      const parts = Array.from({ length: chunks }, (_, k) => Buffer.from(c(k)));
      if (op === 3) [parts[x], parts[y]] = [parts[y]!, parts[x]!];
      else if (op === 4) parts.splice(x, 1);
      else parts.splice(x, 0, Buffer.from(parts[x]!));
      b = Buffer.concat([b.subarray(0, HEADER_LEN), ...parts, b.subarray(HEADER_LEN + chunks * frame)]);
    }
    if (b.equals(original)) continue;
    writeFileSync(join(relayDir, object), b);
    const staging = join(root, `st-${i}`);
    const err = await downloadBundle(sd, relay, object, staging, PW).then(() => new Error(`case ${i} (seed ${seed}, op ${op}) validated`), (e: unknown) => e);
    if (!isDevxError(err) || !["integrity", "truncated", "passphrase"].includes(err.kind)) throw new Error(`case ${i} (seed ${seed}, op ${op}): ${String(err)}`);
    if (existsSync(staging)) throw new Error(`case ${i} (seed ${seed}) left ${staging}`);
    kinds.set(err.kind, (kinds.get(err.kind) ?? 0) + 1);
  }
  expect(readdirSync(root).filter((f) => f.startsWith("st-"))).toEqual([]);
  expect(kinds.get("integrity")).toBeGreaterThan(0);
  expect(kinds.get("truncated")).toBeGreaterThan(0);
}, 120_000);
