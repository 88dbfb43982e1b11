import { expect, test } from "bun:test";
import { HEADER_LEN } from "../../../../src/core/state/bundle/crypto.ts";
import { IntegrityError, TruncatedError } from "../../../../src/errors.ts";
import { decrypt, encrypt, pseudoRandom } from "./helpers.ts";

const PASS = "abacus-zoom-radar-yolk";
const CHUNK = 48;
const FRAME = CHUNK + 16;

/** A small seeded PRNG so a failing case can be replayed from its printed seed. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

type Mutation = { name: string; expect: "integrity" | "truncated" | "any"; apply(b: Buffer, r: (n: number) => number, other: Buffer): Buffer };

const MUTATIONS: Mutation[] = [
  { name: "flip a bit", expect: "integrity", apply: (b, r) => { const m = Buffer.from(b); m[r(m.length)]! ^= 1 << r(8); return m; } },
  { name: "replace a byte", expect: "integrity", apply: (b, r) => { const m = Buffer.from(b); const i = r(m.length); m[i] = (m[i]! + 1 + r(255)) & 255; return m; } },
  { name: "truncate", expect: "truncated", apply: (b, r) => b.subarray(0, r(b.length)) },
  { name: "append", expect: "integrity", apply: (b, r) => Buffer.concat([b, pseudoRandom(1 + r(100), r(1000) + 1)]) },
  { name: "insert bytes", expect: "any", apply: (b, r) => { const i = r(b.length); return Buffer.concat([b.subarray(0, i), pseudoRandom(1 + r(70), r(1000) + 1), b.subarray(i)]); } },
  { name: "delete bytes", expect: "any", apply: (b, r) => { const i = r(b.length); return Buffer.concat([b.subarray(0, i), b.subarray(i + 1 + r(70))]); } },
  {
    name: "swap two frames", expect: "integrity",
    apply: (b, r) => {
      const n = (b.length - HEADER_LEN) / FRAME;
      const i = r(n - 1);
      const j = i + 1 + r(n - 1 - i);
      const f = (k: number) => b.subarray(HEADER_LEN + k * FRAME, HEADER_LEN + (k + 1) * FRAME);
      const frames = Array.from({ length: n }, (_, k) => (k === i ? f(j) : k === j ? f(i) : f(k)));
      return Buffer.concat([b.subarray(0, HEADER_LEN), ...frames]);
    },
  },
  { name: "drop a frame", expect: "any", apply: (b, r) => { const k = r((b.length - HEADER_LEN) / FRAME); return Buffer.concat([b.subarray(0, HEADER_LEN + k * FRAME), b.subarray(HEADER_LEN + (k + 1) * FRAME)]); } },
  { name: "splice a frame from another bundle with the same passphrase", expect: "integrity", apply: (b, r, other) => { const k = r(4); return Buffer.concat([b.subarray(0, HEADER_LEN + k * FRAME), other.subarray(HEADER_LEN + k * FRAME, HEADER_LEN + (k + 1) * FRAME), b.subarray(HEADER_LEN + (k + 1) * FRAME)]); } },
  { name: "header from another bundle", expect: "integrity", apply: (b, _r, other) => Buffer.concat([other.subarray(0, HEADER_LEN), b.subarray(HEADER_LEN)]) },
];

test("4,000 random mutations never crash, never pass, and never emit unauthenticated plaintext", async () => {
  const plain = pseudoRandom(CHUNK * 9 + 17, 42);
  const bundle = await encrypt(PASS, plain, CHUNK);
  const other = await encrypt(PASS, plain, CHUNK);
  const seed = Number(process.env.DEVX_MUTATION_SEED ?? Date.now() % 1_000_000);
  const r = rng(seed);
  const tally = new Map<string, number>();
  for (let i = 0; i < 4000; i++) {
    const m = MUTATIONS[i % MUTATIONS.length]!;
    const mutated = m.apply(bundle, r, other);
    const where = `seed ${seed}, case ${i}: ${m.name}`;
    const { out, error } = await decrypt(PASS, mutated, 1 + r(4));
    // Only whole authenticated chunks of the original may come out, in order.
    if (!plain.subarray(0, out.length).equals(out)) throw new Error(`${where}: emitted bytes that are not a prefix of the plaintext`);
    if (out.length % CHUNK !== 0 && !(error === undefined && out.equals(plain))) throw new Error(`${where}: emitted a partial chunk`);
    if (mutated.equals(bundle)) {
      if (error) throw new Error(`${where}: an unchanged bundle failed: ${error}`);
      continue;
    }
    if (error === undefined) throw new Error(`${where}: a modified bundle decrypted without error`);
    const ok =
      m.expect === "integrity" ? error instanceof IntegrityError :
      m.expect === "truncated" ? error instanceof TruncatedError :
      error instanceof IntegrityError || error instanceof TruncatedError;
    if (!ok) throw new Error(`${where}: expected ${m.expect}, got ${(error as Error).name}: ${(error as Error).message}`);
    tally.set((error as Error).name, (tally.get((error as Error).name) ?? 0) + 1);
  }
  expect(tally.get("IntegrityError")).toBeGreaterThan(2000);
  expect(tally.get("TruncatedError")).toBeGreaterThan(300);
});
