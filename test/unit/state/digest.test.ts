import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { create } from "tar";
import { contentDigester, fileSha256, tarContentDigest } from "../../../src/core/state/digest.ts";
import { ProviderError } from "../../../src/errors.ts";

async function tarOf(files: Record<string, string | Buffer>): Promise<Buffer> {
  const dir = mkdtempSync(join(tmpdir(), "digest-"));
  try {
    for (const [name, body] of Object.entries(files)) writeFileSync(join(dir, name), body);
    const chunks: Buffer[] = [];
    for await (const c of create({ cwd: dir, portable: true }, Object.keys(files)) as unknown as AsyncIterable<Buffer>) chunks.push(c);
    return Buffer.concat(chunks);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Feed the digester in uneven slices, as a volume export arrives. */
async function fedInSlices(tar: Buffer, sizes: number[]): Promise<string> {
  const d = contentDigester();
  for (let at = 0, i = 0; at < tar.length; i++) {
    const n = sizes[i % sizes.length]!;
    await d.write(new Uint8Array(tar.buffer, tar.byteOffset + at, Math.min(n, tar.length - at)));
    at += n;
  }
  return d.finish();
}

test("the streaming digester agrees with tarContentDigest however the bytes are cut, and tells content apart", async () => {
  const big = Buffer.alloc(3 << 20, 7);
  const tar = await tarOf({ "a.txt": "hello", "b.bin": big });
  const whole = await tarContentDigest(Readable.from([tar]));
  expect(await fedInSlices(tar, [1, 511, 4096, 1 << 20, 3])).toBe(whole);
  // same files written in the other order: same content digest, different bytes
  const reordered = await tarOf({ "b.bin": big, "a.txt": "hello" });
  expect(reordered.equals(tar)).toBe(false);
  expect(await tarContentDigest(Readable.from([reordered]))).toBe(whole);
  expect(await tarContentDigest(Readable.from([await tarOf({ "a.txt": "hellO", "b.bin": big })]))).not.toBe(whole);
});

test("an empty volume's export (end-of-archive blocks only) digests as no entries; garbage is a ProviderError", async () => {
  const empty = await tarContentDigest(Readable.from([Buffer.alloc(1024)]));
  expect(await fedInSlices(Buffer.alloc(1024), [100])).toBe(empty);
  const d = contentDigester();
  await d.write(Buffer.from("this is not a tar archive at all ".repeat(40)));
  await d.write(Buffer.alloc(512, 1));
  await expect(d.finish()).rejects.toBeInstanceOf(ProviderError);
});

test("fileSha256 hashes the whole file through its reused buffer", async () => {
  const dir = mkdtempSync(join(tmpdir(), "digest-"));
  try {
    const body = Buffer.concat([Buffer.alloc((1 << 20) + 5, 1), Buffer.from("tail")]);
    writeFileSync(join(dir, "f"), body);
    const want = new Bun.CryptoHasher("sha256").update(body).digest("hex");
    expect(await fileSha256(join(dir, "f"))).toEqual({ sha256: want, size: body.length });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
