import { describe, expect, test } from "bun:test";
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, pbkdf2Sync, randomBytes } from "node:crypto";
import { createDecryptStream, createEncryptStream, deriveKey, encryptedSize, HEADER_LEN, parseHeader } from "../../../../src/core/state/bundle/crypto.ts";
import { IntegrityError, PassphraseError, TruncatedError, UsageError } from "../../../../src/errors.ts";
import { decrypt, encrypt, pseudoRandom, through } from "./helpers.ts";

const PASS = "radar-muscular-duller-encounter";

/**
 * An independent writer and reader of the format exactly as docs/bundle-format.md describes it,
 * so the implementation cannot drift from the documentation without a test failing.
 */
function specKeys(pass: string, salt: Buffer, iterations: number) {
  const master = pbkdf2Sync(Buffer.from(pass, "utf8"), salt, iterations, 32, "sha256");
  return {
    enc: Buffer.from(hkdfSync("sha256", master, salt, "devx-bundle v1 aes-256-gcm key", 32)),
    check: Buffer.from(hkdfSync("sha256", master, salt, "devx-bundle v1 key check key", 32)),
  };
}
function specNonce(prefix: Buffer, i: number, final: boolean): Buffer {
  const n = Buffer.alloc(12);
  prefix.copy(n);
  n.writeUInt32BE(i, 7);
  n[11] = final ? 1 : 0;
  return n;
}
function specEncrypt(pass: string, plain: Buffer, chunkSize: number, iterations: number): Buffer {
  const salt = randomBytes(32);
  const prefix = randomBytes(7);
  const keys = specKeys(pass, salt, iterations);
  const fields = Buffer.concat([
    Buffer.from("DEVXBNDL"),
    Buffer.from([1, 1]),
    Buffer.from([iterations >>> 24, (iterations >>> 16) & 255, (iterations >>> 8) & 255, iterations & 255]),
    salt,
    Buffer.from([1]),
    Buffer.from([chunkSize >>> 24, (chunkSize >>> 16) & 255, (chunkSize >>> 8) & 255, chunkSize & 255]),
    prefix,
    createHmac("sha256", keys.check).update("devx-bundle v1 key check").digest(),
  ]);
  const header = Buffer.concat([fields, createHash("sha256").update(fields).digest().subarray(0, 16)]);
  const out = [header];
  const full = Math.floor(plain.length / chunkSize);
  for (let i = 0; i <= full; i++) {
    const final = i === full;
    let block = plain.subarray(i * chunkSize, (i + 1) * chunkSize);
    if (final) block = Buffer.concat([block, Buffer.from([0x80]), Buffer.alloc(chunkSize - block.length - 1)]);
    const c = createCipheriv("aes-256-gcm", keys.enc, specNonce(prefix, i, final));
    c.setAAD(header);
    out.push(c.update(block), c.final(), c.getAuthTag());
  }
  return Buffer.concat(out);
}
function specDecrypt(pass: string, bundle: Buffer): Buffer {
  const header = bundle.subarray(0, 106);
  expect(header.subarray(0, 8).toString()).toBe("DEVXBNDL");
  expect(header.subarray(90)).toEqual(createHash("sha256").update(header.subarray(0, 90)).digest().subarray(0, 16));
  const iterations = header.readUInt32BE(10);
  const salt = header.subarray(14, 46);
  const chunkSize = header.readUInt32BE(47);
  const prefix = header.subarray(51, 58);
  const keys = specKeys(pass, salt, iterations);
  expect(header.subarray(58, 90)).toEqual(createHmac("sha256", keys.check).update("devx-bundle v1 key check").digest());
  const frames = bundle.subarray(106);
  expect(frames.length % (chunkSize + 16)).toBe(0);
  const n = frames.length / (chunkSize + 16);
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const f = frames.subarray(i * (chunkSize + 16), (i + 1) * (chunkSize + 16));
    const d = createDecipheriv("aes-256-gcm", keys.enc, specNonce(prefix, i, i === n - 1));
    d.setAAD(header);
    d.setAuthTag(f.subarray(chunkSize));
    let p = Buffer.concat([d.update(f.subarray(0, chunkSize)), d.final()]);
    if (i === n - 1) p = p.subarray(0, p.lastIndexOf(0x80));
    out.push(p);
  }
  return Buffer.concat(out);
}

describe("bundle format", () => {
  test("the header records the documented fields", async () => {
    const bundle = await encrypt(PASS, Buffer.from("hello"), 4096);
    expect(HEADER_LEN).toBe(106);
    const h = parseHeader(bundle, { allowWeakIterations: true });
    expect(bundle.subarray(0, 8).toString("ascii")).toBe("DEVXBNDL");
    expect(h).toMatchObject({ version: 1, kdf: "pbkdf2-sha256", iterations: 1000, cipher: "aes-256-gcm", chunkSize: 4096 });
    expect(h.salt.length).toBe(32);
    expect(h.noncePrefix.length).toBe(7);
  });

  test("defaults: 600,000 PBKDF2 iterations and 1 MiB chunks", async () => {
    const t = await createEncryptStream(PASS);
    const { out } = await through(t, Buffer.from("x"));
    const h = parseHeader(out);
    expect(h.iterations).toBe(600_000);
    expect(h.chunkSize).toBe(1 << 20);
    expect(out.length).toBe(encryptedSize(1));
  });

  test("an independent implementation of the documented format reads devx bundles, and devx reads its bundles", async () => {
    for (const n of [0, 1, 63, 64, 65, 640, 1000]) {
      const plain = pseudoRandom(n, n + 1);
      const ours = await encrypt(PASS, plain, 64);
      expect(ours.length).toBe(encryptedSize(n, 64));
      expect(specDecrypt(PASS, ours)).toEqual(plain);
      const theirs = specEncrypt(PASS, plain, 64, 1000);
      const r = await decrypt(PASS, theirs);
      expect(r.error).toBeUndefined();
      expect(r.out).toEqual(plain);
    }
  });

  test("round-trips across chunk boundaries whatever the write sizes", async () => {
    const plain = pseudoRandom(10_000, 7);
    for (const pieces of [1, 3, 97, 10_000]) {
      const bundle = await encrypt(PASS, plain, 256, pieces);
      for (const dpieces of [1, 5, 333]) {
        const r = await decrypt(PASS, bundle, dpieces);
        expect(r.error).toBeUndefined();
        expect(r.out).toEqual(plain);
      }
    }
  });

  test("two bundles of the same data share no ciphertext (fresh salt and nonce prefix)", async () => {
    const plain = Buffer.alloc(256, 1);
    const a = await encrypt(PASS, plain);
    const b = await encrypt(PASS, plain);
    expect(a.subarray(HEADER_LEN, HEADER_LEN + 32)).not.toEqual(b.subarray(HEADER_LEN, HEADER_LEN + 32));
    expect(a.subarray(14, 46)).not.toEqual(b.subarray(14, 46));
  });
});

describe("errors", () => {
  const plain = pseudoRandom(640, 3); // 10 full chunks of 64 + a final
  const frame = 64 + 16;
  let bundle: Buffer;
  const get = async () => (bundle ??= await encrypt(PASS, plain, 64));

  async function expectError(data: Buffer, cls: new (...a: never[]) => Error, pass = PASS) {
    const r = await decrypt(pass, data);
    expect(r.error).toBeInstanceOf(cls);
    expect((r.error as IntegrityError).hint.length).toBeGreaterThan(0);
    expect(plain.subarray(0, r.out.length)).toEqual(r.out);
    return r;
  }

  test("a wrong passphrase is a PassphraseError and emits nothing", async () => {
    const r = await expectError(await get(), PassphraseError, "radar-muscular-duller-encounters");
    expect(r.out.length).toBe(0);
  });

  test("a flipped byte anywhere in the header is an IntegrityError", async () => {
    const b = await get();
    for (let i = 0; i < HEADER_LEN; i++) {
      const m = Buffer.from(b);
      m[i]! ^= 0x01;
      const r = await expectError(m, IntegrityError);
      expect(r.out.length).toBe(0);
    }
  });

  test("a flipped byte in the body is an IntegrityError; chunks before it may be emitted, nothing after", async () => {
    const b = await get();
    for (const at of [HEADER_LEN, HEADER_LEN + 3 * frame + 10, HEADER_LEN + 4 * frame - 1, b.length - 1]) {
      const m = Buffer.from(b);
      m[at]! ^= 0x80;
      const r = await expectError(m, IntegrityError);
      expect(r.out.length).toBeLessThanOrEqual(Math.floor((at - HEADER_LEN) / frame) * 64);
    }
  });

  test("swapped or duplicated chunks are an IntegrityError", async () => {
    const b = await get();
    const f = (i: number) => b.subarray(HEADER_LEN + i * frame, HEADER_LEN + (i + 1) * frame);
    const swapped = Buffer.concat([b.subarray(0, HEADER_LEN), f(1), f(0), b.subarray(HEADER_LEN + 2 * frame)]);
    expect((await expectError(swapped, IntegrityError)).out.length).toBe(0);
    const dup = Buffer.concat([b.subarray(0, HEADER_LEN + 3 * frame), f(2), b.subarray(HEADER_LEN + 3 * frame)]);
    expect((await expectError(dup, IntegrityError)).out.length).toBeLessThanOrEqual(3 * 64);
    // the final chunk moved forward: its nonce says "final", but not at this index
    const early = Buffer.concat([b.subarray(0, HEADER_LEN), f(10)]);
    await expectError(early, IntegrityError);
  });

  test("a truncated bundle is a TruncatedError wherever it is cut", async () => {
    const b = await get();
    for (const len of [0, 5, 8, 50, HEADER_LEN, HEADER_LEN + 1, HEADER_LEN + frame, HEADER_LEN + 5 * frame + 7, b.length - frame, b.length - 1]) {
      await expectError(b.subarray(0, len), TruncatedError);
    }
  });

  test("bytes after the final chunk are an IntegrityError", async () => {
    const b = await get();
    for (const m of [Buffer.concat([b, Buffer.from([0])]), Buffer.concat([b, b])]) {
      for (const pieces of [1, 7]) {
        const r = await decrypt(PASS, m, pieces);
        expect(r.error).toBeInstanceOf(IntegrityError);
        // the final frame verified (as final, with bytes after it): named as such, not as tampering
        expect((r.error as Error).message).toContain("after the final chunk");
        expect(plain.subarray(0, r.out.length)).toEqual(r.out);
      }
    }
  });

  test("a bundle cut at a frame boundary is truncated, and names how many chunks verified", async () => {
    const b = await get();
    for (const k of [1, 4, 10]) {
      const r = await decrypt(PASS, b.subarray(0, HEADER_LEN + k * frame), 3);
      expect(r.error).toBeInstanceOf(TruncatedError);
      expect((r.error as Error).message).toContain(`after ${k} chunks`);
      expect(plain.subarray(0, r.out.length)).toEqual(r.out);
    }
  });

  test("something that is not a bundle is an IntegrityError", async () => {
    await expectError(Buffer.from("PK\x03\x04 a zip file, not a bundle"), IntegrityError);
  });

  test("iteration counts below 100,000 are refused unless the test-only option allows them", async () => {
    const b = await get();
    const r = await through(createDecryptStream(PASS), b);
    expect(r.error).toBeInstanceOf(IntegrityError);
    expect((r.error as Error).message).toContain("1000 iterations");
  });

  test("invalid encrypt options are usage errors", async () => {
    await expect(createEncryptStream(PASS, { chunkSize: 8 })).rejects.toBeInstanceOf(UsageError);
    await expect(createEncryptStream(PASS, { iterations: 0 })).rejects.toBeInstanceOf(UsageError);
  });
});

test("deriveKey is cached per (passphrase, salt, iterations), least recently used out", async () => {
  const salt = randomBytes(32);
  const a = await deriveKey(PASS, salt, 1000);
  // the same Buffer object back: no second PBKDF2 run
  expect(await deriveKey(PASS, salt, 1000)).toBe(a);
  expect(a).toEqual(pbkdf2Sync(Buffer.from(PASS), salt, 1000, 32, "sha256"));
  expect(await deriveKey(PASS, salt, 1001)).not.toEqual(a);
  expect(await deriveKey(`${PASS}s`, salt, 1000)).not.toEqual(a);
  // touched, then 7 other keys: it stays (8 fit); then 8 more without touching it: evicted
  expect(await deriveKey(PASS, salt, 1000)).toBe(a);
  for (let i = 0; i < 7; i++) await deriveKey(PASS, randomBytes(32), 1000);
  expect(await deriveKey(PASS, salt, 1000)).toBe(a);
  for (let i = 0; i < 8; i++) await deriveKey(PASS, randomBytes(32), 1000);
  const again = await deriveKey(PASS, salt, 1000);
  expect(again).not.toBe(a);
  expect(again).toEqual(a);
});
