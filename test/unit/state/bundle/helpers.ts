import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Transform } from "node:stream";
import { createDecryptStream, createEncryptStream } from "../../../../src/core/state/bundle/crypto.ts";

/** Low iteration count for speed; the decryptor is told to accept it. */
export const FAST = { iterations: 1000 };

/** Run `data` (split into `pieces` writes) through a transform; collect what it emitted even on error. */
export async function through(t: Transform, data: Buffer, pieces = 1): Promise<{ out: Buffer; error?: unknown }> {
  const parts: Buffer[] = [];
  const step = Math.max(1, Math.ceil(data.length / pieces));
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += step) chunks.push(data.subarray(i, i + step));
  try {
    await pipeline(Readable.from(chunks), t, async function* (src) {
      for await (const c of src) parts.push(c as Buffer);
    });
    return { out: Buffer.concat(parts) };
  } catch (error) {
    return { out: Buffer.concat(parts), error };
  }
}

export async function encrypt(passphrase: string, data: Buffer, chunkSize = 64, pieces = 1): Promise<Buffer> {
  const r = await through(await createEncryptStream(passphrase, { chunkSize, ...FAST }), data, pieces);
  if (r.error) throw r.error;
  return r.out;
}

export function decrypt(passphrase: string, data: Buffer, pieces = 1): Promise<{ out: Buffer; error?: unknown }> {
  return through(createDecryptStream(passphrase, { allowWeakIterations: true }), data, pieces);
}

/** Deterministic pseudo-random bytes for test data (not for keys). */
export function pseudoRandom(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}
