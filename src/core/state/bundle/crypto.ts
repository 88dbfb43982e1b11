/**
 * The devx bundle encryption format (docs/bundle-format.md): a 106-byte authenticated header, then
 * fixed-size frames, each one AES-256-GCM chunk whose nonce binds its index and whether it is the
 * last one. Everything streams with memory bounded by one frame; node:crypto is used because
 * WebCrypto cannot stream GCM.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, pbkdf2, randomBytes, timingSafeEqual } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { IntegrityError, PassphraseError, TruncatedError, UsageError } from "../../../errors.ts";
import { PieceQueue } from "./pieces.ts";

export const MAGIC = Buffer.from("DEVXBNDL", "ascii");
export const FORMAT_VERSION = 1;
export const KDF_PBKDF2_SHA256 = 1;
export const CIPHER_AES_256_GCM = 1;
export const DEFAULT_ITERATIONS = 600_000;
/** the decryptor's floor, so a forged header cannot downgrade the KDF */
export const MIN_ITERATIONS = 100_000;
/** the decryptor's ceiling, so a forged header cannot make it spin for hours */
export const MAX_ITERATIONS = 10_000_000;
export const DEFAULT_CHUNK_SIZE = 1 << 20;
export const MIN_CHUNK_SIZE = 16;
export const MAX_CHUNK_SIZE = 16 << 20;

const SALT_LEN = 32;
const PREFIX_LEN = 7;
const CHECK_LEN = 32;
const DIGEST_LEN = 16;
export const TAG_LEN = 16;
/** magic 8 | version 1 | kdf 1 | iterations 4 | salt 32 | cipher 1 | chunk size 4 | nonce prefix 7 | key check 32 | digest 16 */
export const HEADER_LEN = 8 + 1 + 1 + 4 + SALT_LEN + 1 + 4 + PREFIX_LEN + CHECK_LEN + DIGEST_LEN;
const DIGESTED_LEN = HEADER_LEN - DIGEST_LEN;
const MAX_CHUNKS = 0x1_0000_0000;
const PAD_MARK = 0x80;

const INFO_ENC = "devx-bundle v1 aes-256-gcm key";
const INFO_CHECK = "devx-bundle v1 key check key";
const CHECK_MSG = "devx-bundle v1 key check";

export interface EncryptOptions {
  /** plaintext bytes per chunk (default 1 MiB) */
  chunkSize?: number;
  /** PBKDF2 iterations (default 600,000); recorded in the header */
  iterations?: number;
}

export interface DecryptOptions {
  /** test-only: accept iteration counts below the 100,000 floor */
  allowWeakIterations?: boolean;
}

export interface BundleHeader {
  version: number;
  kdf: "pbkdf2-sha256";
  iterations: number;
  salt: Buffer;
  cipher: "aes-256-gcm";
  chunkSize: number;
  noncePrefix: Buffer;
  keyCheck: Buffer;
  /** the raw header bytes: the AAD of every chunk */
  raw: Buffer;
}

/** Bytes of ciphertext for `plainBytes` of plaintext (for progress and ETA). */
export function encryptedSize(plainBytes: number, chunkSize = DEFAULT_CHUNK_SIZE): number {
  return HEADER_LEN + (Math.floor(plainBytes / chunkSize) + 1) * (chunkSize + TAG_LEN);
}

// PBKDF2 at 600k iterations costs ~130 ms; attach derives once to check the passphrase and again
// for the real download, so remember a few master keys (least recently used out), indexed by a
// hash, never by the passphrase itself.
const keyCache = new Map<string, Promise<Buffer>>();
const KEY_CACHE_MAX = 8;

function pbkdf2Key(pass: Buffer, salt: Uint8Array, iterations: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => pbkdf2(pass, salt, iterations, 32, "sha256", (err, key) => (err ? reject(err) : resolve(key))));
}

/** The PBKDF2-SHA256 master key for (passphrase, salt, iterations), cached. */
export function deriveKey(passphrase: string, salt: Uint8Array, iterations: number): Promise<Buffer> {
  const pass = Buffer.from(passphrase.normalize("NFKC"), "utf8");
  const id = createHash("sha256").update(pass).update("\0").update(salt).update(`\0${iterations}`).digest("hex");
  const hit = keyCache.get(id);
  if (hit) {
    keyCache.delete(id);
    keyCache.set(id, hit);
    return hit;
  }
  const p = pbkdf2Key(pass, salt, iterations);
  keyCache.set(id, p);
  p.catch(() => keyCache.delete(id));
  if (keyCache.size > KEY_CACHE_MAX) keyCache.delete(keyCache.keys().next().value!);
  return p;
}

function subkeys(master: Buffer, salt: Buffer): { enc: Buffer; check: Buffer } {
  return {
    enc: Buffer.from(hkdfSync("sha256", master, salt, INFO_ENC, 32)),
    check: Buffer.from(hkdfSync("sha256", master, salt, INFO_CHECK, 32)),
  };
}

function keyCheckValue(checkKey: Buffer): Buffer {
  return createHmac("sha256", checkKey).update(CHECK_MSG).digest();
}

/** Write nonce_i into `out` (one 12-byte buffer per stream: createCipheriv copies the IV). */
function nonce(out: Buffer, prefix: Buffer, index: number, final: boolean): Buffer {
  prefix.copy(out, 0);
  out.writeUInt32BE(index, PREFIX_LEN);
  out[11] = final ? 1 : 0;
  return out;
}

// Zeros for the final frame's padding (written) and its check (read), shared and never written to:
// a fresh zeroed megabyte per bundle would cost more in page faults than encrypting it.
let zeroBuf = Buffer.alloc(0);
function zeros(n: number): Buffer {
  if (zeroBuf.length < n) zeroBuf = Buffer.alloc(n);
  return zeroBuf.subarray(0, n);
}
const MARK = Buffer.from([PAD_MARK]);

function headerDigest(bytes: Buffer): Buffer {
  return createHash("sha256").update(bytes.subarray(0, DIGESTED_LEN)).digest().subarray(0, DIGEST_LEN);
}

function checkRange(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`${name} must be a whole number from ${min} to ${max} (got ${value})`, `leave ${name} at its default`);
}

/**
 * Encrypt a stream into a bundle. The key is derived before this resolves, so the first write is
 * not held up by PBKDF2.
 */
export async function createEncryptStream(passphrase: string, opts: EncryptOptions = {}): Promise<Transform> {
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const iterations = opts.iterations ?? DEFAULT_ITERATIONS;
  checkRange("chunkSize", chunkSize, MIN_CHUNK_SIZE, MAX_CHUNK_SIZE);
  checkRange("iterations", iterations, 1, MAX_ITERATIONS);
  const salt = randomBytes(SALT_LEN);
  const prefix = randomBytes(PREFIX_LEN);
  // A fresh salt never repeats, so this key is not cached (it would only push out attach's keys).
  const keys = subkeys(await pbkdf2Key(Buffer.from(passphrase.normalize("NFKC"), "utf8"), salt, iterations), salt);

  const header = Buffer.alloc(HEADER_LEN);
  let o = MAGIC.copy(header, 0);
  o = header.writeUInt8(FORMAT_VERSION, o);
  o = header.writeUInt8(KDF_PBKDF2_SHA256, o);
  o = header.writeUInt32BE(iterations, o);
  o += salt.copy(header, o);
  o = header.writeUInt8(CIPHER_AES_256_GCM, o);
  o = header.writeUInt32BE(chunkSize, o);
  o += prefix.copy(header, o);
  o += keyCheckValue(keys.check).copy(header, o);
  headerDigest(header).copy(header, o);

  const queue = new PieceQueue();
  const iv = Buffer.alloc(12);
  let index = 0;
  let headerSent = false;

  // One GCM pass per frame, fed the input pieces as they are (no assembled chunk, no copy); each
  // update()'s output goes downstream as it is.
  const seal = (t: Transform, plain: Buffer[], final: boolean, padTo = 0): void => {
    if (index >= MAX_CHUNKS) throw new UsageError("bundle too large for its chunk size", "share less data per bundle");
    const cipher = createCipheriv("aes-256-gcm", keys.enc, nonce(iv, prefix, index, final), { authTagLength: TAG_LEN });
    cipher.setAAD(header);
    for (const p of plain) t.push(cipher.update(p));
    if (final) {
      // The final chunk is always a whole block: data, 0x80, zeros. Every frame has the same size,
      // so a short frame can only mean truncation and a bad tag only tampering.
      t.push(cipher.update(MARK));
      if (padTo > 1) t.push(cipher.update(zeros(padTo - 1)));
    }
    cipher.final();
    t.push(cipher.getAuthTag());
    index++;
  };
  const sendHeader = (t: Transform): void => {
    if (headerSent) return;
    headerSent = true;
    t.push(Buffer.from(header));
  };

  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      try {
        sendHeader(this);
        queue.push(chunk);
        // A full block is sealed as non-final only once more data follows it (the nonce says
        // which, so it must be known before the first byte is encrypted): the last block is
        // always sealed by flush() with the final flag.
        while (queue.length > chunkSize) seal(this, queue.take(chunkSize), false);
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
    flush(cb: TransformCallback) {
      try {
        sendHeader(this);
        if (queue.length === chunkSize) seal(this, queue.take(chunkSize), false);
        const n = queue.length;
        seal(this, queue.take(n), true, chunkSize - n);
        cb();
      } catch (e) {
        cb(e as Error);
      }
    },
  });
}

const NOT_A_BUNDLE_HINT = "check that the share ID is the one printed by `devx state share`, or share again";
const TAMPER_HINT = "the bundle was modified or corrupted on the relay or in transit: ask for a fresh share";

/** Parse and verify a header (digest, parameters). IntegrityError for a corrupt or unsupported one. */
export function parseHeader(raw: Buffer, opts: DecryptOptions = {}): BundleHeader {
  if (raw.length < MAGIC.length || !raw.subarray(0, MAGIC.length).equals(MAGIC)) throw new IntegrityError("not a devx bundle (bad magic bytes)", NOT_A_BUNDLE_HINT);
  const version = raw[MAGIC.length]!;
  if (version !== FORMAT_VERSION) {
    throw new IntegrityError(`unsupported bundle format version ${version} (this devx reads version ${FORMAT_VERSION})`, "a newer devx made it: upgrade devx on this machine (if both ends run the same version, the bundle is corrupted: ask for a fresh share)");
  }
  if (raw.length < HEADER_LEN) throw new TruncatedError("the bundle ends inside its header", "the upload or download was interrupted: retry, or share again");
  const bytes = raw.subarray(0, HEADER_LEN);
  if (!timingSafeEqual(headerDigest(bytes), bytes.subarray(DIGESTED_LEN))) throw new IntegrityError("the bundle header is corrupted (checksum mismatch)", TAMPER_HINT);
  let o = MAGIC.length + 1;
  const kdf = bytes.readUInt8(o++);
  const iterations = bytes.readUInt32BE(o);
  o += 4;
  const salt = Buffer.from(bytes.subarray(o, (o += SALT_LEN)));
  const cipher = bytes.readUInt8(o++);
  const chunkSize = bytes.readUInt32BE(o);
  o += 4;
  const noncePrefix = Buffer.from(bytes.subarray(o, (o += PREFIX_LEN)));
  const keyCheck = Buffer.from(bytes.subarray(o, (o += CHECK_LEN)));
  if (kdf !== KDF_PBKDF2_SHA256) throw new IntegrityError(`unsupported key derivation id ${kdf}`, "upgrade devx on this machine");
  if (cipher !== CIPHER_AES_256_GCM) throw new IntegrityError(`unsupported cipher id ${cipher}`, "upgrade devx on this machine");
  const floor = opts.allowWeakIterations ? 1 : MIN_ITERATIONS;
  if (iterations < floor || iterations > MAX_ITERATIONS) {
    throw new IntegrityError(`refusing PBKDF2 with ${iterations} iterations (allowed ${floor}–${MAX_ITERATIONS})`, "the bundle was not made by devx or was tampered with: ask for a fresh share");
  }
  if (chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) throw new IntegrityError(`invalid chunk size ${chunkSize} in the bundle header`, TAMPER_HINT);
  return { version, kdf: "pbkdf2-sha256", iterations, salt, cipher: "aes-256-gcm", chunkSize, noncePrefix, keyCheck, raw: Buffer.from(bytes) };
}

/** Check the passphrase against a parsed header; PassphraseError when it does not open it. Returns the chunk key. */
export async function unlockHeader(header: BundleHeader, passphrase: string): Promise<Buffer> {
  const keys = subkeys(await deriveKey(passphrase, header.salt, header.iterations), header.salt);
  if (!timingSafeEqual(keyCheckValue(keys.check), header.keyCheck)) {
    throw new PassphraseError("the passphrase does not open this bundle", "check the words after the last ':' of the share ID (all of them, in order)");
  }
  return keys.enc;
}

/**
 * Decrypt a bundle. Plaintext is emitted only for chunks whose tag verified. Errors:
 * PassphraseError (wrong passphrase), IntegrityError (tampered header or chunk, reordered chunks,
 * bytes after the final chunk, not a bundle), TruncatedError (ends before the final chunk).
 */
export function createDecryptStream(passphrase: string, opts: DecryptOptions = {}): Transform {
  let header: BundleHeader | undefined;
  let key: Buffer | undefined;
  let headBuf: Buffer = Buffer.alloc(0);
  const queue = new PieceQueue();
  const iv = Buffer.alloc(12);
  let index = 0;
  let frameLen = 0;

  /** The frame's plaintext pieces if its tag verifies under the (index, final) nonce, else undefined. */
  const tryOpen = (ct: Buffer[], tag: Buffer, final: boolean): Buffer[] | undefined => {
    const h = header!;
    const d = createDecipheriv("aes-256-gcm", key!, nonce(iv, h.noncePrefix, index, final), { authTagLength: TAG_LEN });
    d.setAAD(h.raw);
    d.setAuthTag(tag);
    const plain = ct.map((c) => d.update(c));
    try {
      d.final();
      return plain;
    } catch {
      return undefined;
    }
  };

  /**
   * Open the next frame from the queue and push its plaintext, only after its tag verified. Every
   * frame has the same size, so whether this is the last one is only known from which nonce its
   * tag verifies under; but a valid final frame is followed by nothing, so `more` (bytes follow
   * it) says which nonce to try: each frame of a valid bundle is decrypted once. The other nonce
   * is tried only to name the failure.
   */
  const open = (t: Transform, more: boolean): void => {
    if (index >= MAX_CHUNKS) throw new IntegrityError("too many chunks in the bundle", TAMPER_HINT);
    const ct = queue.take(header!.chunkSize);
    const tag = queue.takeJoined(TAG_LEN);
    const plain = tryOpen(ct, tag, !more);
    if (!plain) {
      const other = tryOpen(ct, tag, more);
      if (!other) throw new IntegrityError(`chunk ${index} of the bundle failed authentication (tampered, corrupted or out of order)`, TAMPER_HINT);
      if (more) throw new IntegrityError("unexpected data after the final chunk of the bundle", TAMPER_HINT);
      // a frame that verifies as non-final, with nothing after it: emit it (it is authentic),
      // then report the cut
      index++;
      for (const p of other) t.push(p);
      throw new TruncatedError(`the bundle ends before its final chunk (after ${index} chunks)`, "the upload or download was interrupted: retry the attach, or share again");
    }
    index++;
    if (more) {
      for (const p of plain) t.push(p);
      return;
    }
    const data = unpad(plain);
    // Authenticated, so a bad pad means a buggy writer rather than an attacker; still refuse it.
    if (!data) throw new IntegrityError("the final chunk has invalid padding", TAMPER_HINT);
    for (const p of data) t.push(p);
  };

  const body = (t: Transform, chunk: Buffer): void => {
    queue.push(chunk);
    while (queue.length > frameLen) open(t, true);
  };

  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      if (key) {
        try {
          body(this, chunk);
          cb();
        } catch (e) {
          cb(e as Error);
        }
        return;
      }
      headBuf = Buffer.concat([headBuf, chunk]);
      try {
        // Fail fast on something that is not a bundle at all, before waiting for a whole header.
        const probe = Math.min(headBuf.length, MAGIC.length);
        if (!headBuf.subarray(0, probe).equals(MAGIC.subarray(0, probe))) throw new IntegrityError("not a devx bundle (bad magic bytes)", NOT_A_BUNDLE_HINT);
        if (headBuf.length > MAGIC.length) parseHeaderVersionOnly(headBuf);
        if (headBuf.length < HEADER_LEN) return cb();
        header = parseHeader(headBuf, opts);
      } catch (e) {
        return cb(e as Error);
      }
      unlockHeader(header, passphrase).then(
        (k) => {
          key = k;
          frameLen = header!.chunkSize + TAG_LEN;
          const rest = headBuf.subarray(HEADER_LEN);
          headBuf = Buffer.alloc(0);
          try {
            body(this, rest);
            cb();
          } catch (e) {
            cb(e as Error);
          }
        },
        (e) => cb(e as Error),
      );
    },
    flush(cb: TransformCallback) {
      if (!key && headBuf.length === 0) return cb(new TruncatedError("the bundle is empty", "the upload was interrupted: share again"));
      if (!key) return cb(new TruncatedError("the bundle ends inside its header", "the upload or download was interrupted: retry, or share again"));
      if (queue.length === frameLen) {
        try {
          open(this, false);
          return cb();
        } catch (e) {
          return cb(e as Error);
        }
      }
      cb(new TruncatedError(`the bundle ends before its final chunk (after ${index} chunks)`, "the upload or download was interrupted: retry the attach, or share again"));
    },
  });
}

/** The data of a verified final frame's plaintext pieces (padding stripped), or undefined if the padding is invalid. */
function unpad(plain: Buffer[]): Buffer[] | undefined {
  for (let i = plain.length - 1; i >= 0; i--) {
    const p = plain[i]!;
    // native scans (a JS byte loop over a megabyte of padding costs more than decrypting it)
    const end = p.lastIndexOf(PAD_MARK);
    if (!p.subarray(end + 1).equals(zeros(p.length - end - 1))) return undefined;
    if (end < 0) continue;
    const data = plain.slice(0, i);
    if (end > 0) data.push(p.subarray(0, end));
    return data;
  }
  return undefined;
}

function parseHeaderVersionOnly(buf: Buffer): void {
  const version = buf[MAGIC.length]!;
  if (version !== FORMAT_VERSION) parseHeader(buf);
}
