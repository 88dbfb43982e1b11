/**
 * Workspace persistence on a relay: object names, the manifest format and its (hostile-input)
 * validation, and the optional AES-256-GCM envelope. See docs/session-workspace.md.
 *
 * Relay object names are flat (no "/": providers/relay/object-io.ts checkObjectName), so the
 * "<prefix>/manifest-<seq>.json" and "<prefix>/blobs/<sha256>" of the design are spelt
 * "<prefix>.manifest-<seq, 12 digits>.json" and "<prefix>.blob-<id>".
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, type DecipherGCM } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { IntegrityError, UsageError } from "../../../errors.ts";

export const FORMAT = "devx-workspace/1";
/** "DXW1": the envelope of an encrypted object */
export const MAGIC = Buffer.from("DXW1");
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const ENVELOPE_BYTES = MAGIC.length + NONCE_BYTES + TAG_BYTES;
export const SEQ_DIGITS = 12;

/**
 * A file's content is either its own blob (`pack` absent) or the bytes [offset, offset+size) of a
 * pack: small files are stored many to an object, since a bucket charges (in time and money) per
 * request and a source tree is mostly small files.
 */
export type Entry =
  | { path: string; kind: "file"; mode: number; size: number; sha256: string; pack?: string; offset?: number; stamp?: string }
  | { path: string; kind: "dir"; mode: number }
  | { path: string; kind: "symlink"; target: string };

export interface Manifest {
  format: typeof FORMAT;
  seq: number;
  /** ISO time of the push */
  created: string;
  /** ms since the epoch when this push began walking the tree (for the stat cache: see push.ts) */
  scanned: number;
  /** the seq this push was compared with (0: none) */
  parent: number;
  encrypted: boolean;
  /** sorted by path; every parent directory of an entry is itself a "dir" entry */
  entries: Entry[];
  /** plaintext size of every pack an entry refers to */
  packs: Record<string, number>;
  /** paths present in the parent manifest and gone now */
  deleted: string[];
  /** devices, fifos and sockets found and not stored */
  skipped: Array<{ path: string; kind: string }>;
}

export function checkPrefix(prefix: string): void {
  if (!/^[A-Za-z0-9_-][A-Za-z0-9_-]{0,127}$/.test(prefix)) {
    throw new UsageError(`invalid workspace prefix '${prefix}'`, "a prefix is 1-128 letters, digits, '_' or '-' (e.g. the session id)");
  }
}

export const manifestName = (prefix: string, seq: number): string => `${prefix}.manifest-${String(seq).padStart(SEQ_DIGITS, "0")}.json`;

/** The seq of a manifest object of this prefix, or undefined for any other object. */
export function manifestSeq(prefix: string, object: string): number | undefined {
  const head = `${prefix}.manifest-`;
  if (!object.startsWith(head) || !object.endsWith(".json")) return undefined;
  const digits = object.slice(head.length, -".json".length);
  if (!new RegExp(`^[0-9]{${SEQ_DIGITS}}$`).test(digits)) return undefined;
  const n = Number(digits);
  return n > 0 && Number.isSafeInteger(n) ? n : undefined;
}

/** "<prefix>.latest": {"seq": n}, a hint to the newest manifest (see io.ts locateLatest) */
export const pointerName = (prefix: string): string => `${prefix}.latest`;

export const blobPrefix = (prefix: string): string => `${prefix}.blob-`;
export const packPrefix = (prefix: string): string => `${prefix}.pack-`;
/** a pack id is random (it names no content) */
export const packName = (prefix: string, id: string): string => packPrefix(prefix) + id;
export const newPackId = (): string => randomBytes(16).toString("hex");
/** a pack larger than this is refused before it is read */
export const MAX_PACK_BYTES = 64 * 2 ** 20;

/**
 * Content-addressed blob name. Without a key it is the SHA-256 of the content; with one it is an
 * HMAC of it, so the bucket cannot confirm a guessed file by its hash.
 */
export function blobName(prefix: string, sha256: string, key?: WorkspaceKey): string {
  return blobPrefix(prefix) + (key ? createHmac("sha256", key.names).update(sha256).digest("hex") : sha256);
}

export interface WorkspaceKey {
  /** AES-256-GCM key for blobs and manifests */
  data: Buffer;
  /** HMAC key for blob names */
  names: Buffer;
}

/** Per-session key from a master secret: HKDF-SHA256, salt "devx-workspace/1", info = the session id. */
export function deriveWorkspaceKey(masterSecret: Buffer, sessionId: string): Buffer {
  if (masterSecret.length < 16) throw new UsageError("workspace master secret is too short", "use at least 16 random bytes (32 recommended)");
  if (!sessionId) throw new UsageError("workspace key needs a session id", "pass the session id");
  return Buffer.from(hkdfSync("sha256", masterSecret, Buffer.from(FORMAT), Buffer.from(`session:${sessionId}`), 32));
}

/** Split a 32-byte key into the data and naming keys (HKDF, distinct infos). */
export function expandKey(key: Buffer | undefined): WorkspaceKey | undefined {
  if (key === undefined) return undefined;
  if (key.length !== 32) throw new UsageError(`workspace key must be 32 bytes, got ${key.length}`, "derive it with deriveWorkspaceKey()");
  const sub = (info: string) => Buffer.from(hkdfSync("sha256", key, Buffer.alloc(0), Buffer.from(info), 32));
  return { data: sub("devx-workspace/1 data"), names: sub("devx-workspace/1 names") };
}

/** Encrypt a whole buffer: MAGIC | nonce | ciphertext | tag, the object name as associated data. */
export function seal(key: WorkspaceKey, object: string, plain: Buffer): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const c = createCipheriv("aes-256-gcm", key.data, nonce);
  c.setAAD(Buffer.from(object));
  const body = Buffer.concat([c.update(plain), c.final()]);
  return Buffer.concat([MAGIC, nonce, body, c.getAuthTag()]);
}

export function unseal(key: WorkspaceKey, object: string, sealed: Buffer): Buffer {
  if (sealed.length < ENVELOPE_BYTES || !sealed.subarray(0, MAGIC.length).equals(MAGIC)) throw badObject(object, "not an encrypted workspace object");
  const nonce = sealed.subarray(MAGIC.length, MAGIC.length + NONCE_BYTES);
  const d = createDecipheriv("aes-256-gcm", key.data, nonce);
  d.setAAD(Buffer.from(object));
  d.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  try {
    return Buffer.concat([d.update(sealed.subarray(MAGIC.length + NONCE_BYTES, sealed.length - TAG_BYTES)), d.final()]);
  } catch {
    throw badObject(object, "authentication failed (wrong key, or the object was altered)");
  }
}

/** Streaming encryption of a blob, same envelope as seal(). */
export function encryptStream(key: WorkspaceKey, object: string): Transform {
  const nonce = randomBytes(NONCE_BYTES);
  const c = createCipheriv("aes-256-gcm", key.data, nonce);
  c.setAAD(Buffer.from(object));
  let started = false;
  return new Transform({
    transform(chunk: Buffer, _e, cb: TransformCallback) {
      if (!started) {
        started = true;
        this.push(Buffer.concat([MAGIC, nonce]));
      }
      cb(null, c.update(chunk));
    },
    flush(cb: TransformCallback) {
      if (!started) this.push(Buffer.concat([MAGIC, nonce]));
      const last = c.final();
      cb(null, Buffer.concat([last, c.getAuthTag()]));
    },
  });
}

/**
 * Streaming decryption. Plaintext flows out before the tag is checked at the end; the caller writes
 * it to a temp file and renames only after the stream ended cleanly AND the SHA-256 matched.
 */
export function decryptStream(key: WorkspaceKey, object: string): Transform {
  let head = Buffer.alloc(0);
  let d: DecipherGCM | undefined;
  let tail = Buffer.alloc(0);
  return new Transform({
    transform(chunk: Buffer, _e, cb: TransformCallback) {
      if (!d) {
        head = Buffer.concat([head, chunk]);
        if (head.length < MAGIC.length + NONCE_BYTES) return cb();
        if (!head.subarray(0, MAGIC.length).equals(MAGIC)) return cb(badObject(object, "not an encrypted workspace object"));
        d = createDecipheriv("aes-256-gcm", key.data, head.subarray(MAGIC.length, MAGIC.length + NONCE_BYTES));
        d.setAAD(Buffer.from(object));
        chunk = head.subarray(MAGIC.length + NONCE_BYTES);
      }
      // hold back the last TAG_BYTES: they may be the tag
      const all = tail.length ? Buffer.concat([tail, chunk]) : chunk;
      const cut = Math.max(0, all.length - TAG_BYTES);
      tail = Buffer.from(all.subarray(cut));
      cb(null, cut > 0 ? d.update(all.subarray(0, cut)) : undefined);
    },
    flush(cb: TransformCallback) {
      if (!d || tail.length !== TAG_BYTES) return cb(badObject(object, "truncated encrypted object"));
      d.setAuthTag(tail);
      try {
        cb(null, d.final());
      } catch {
        cb(badObject(object, "authentication failed (wrong key, or the object was altered)"));
      }
    },
  });
}

export function badObject(object: string, why: string): IntegrityError {
  return new IntegrityError(`workspace object ${object}: ${why}`, "the bucket holds a damaged or foreign object: push again from a good copy, or check the key");
}

export interface Limits {
  /** largest single file accepted from a manifest (default 16 GiB) */
  maxFileBytes: number;
  /** largest workspace accepted (default 256 GiB) */
  maxTotalBytes: number;
  /** most entries accepted (default 2,000,000) */
  maxEntries: number;
}

export const DEFAULT_LIMITS: Limits = { maxFileBytes: 16 * 2 ** 30, maxTotalBytes: 256 * 2 ** 30, maxEntries: 2_000_000 };
/** a manifest object larger than this is refused before it is read */
export const MAX_MANIFEST_BYTES = 512 * 2 ** 20;

/**
 * Validate a manifest read from the bucket: it is hostile input. Returns it typed, or throws an
 * IntegrityError naming the first problem. Paths are relative, "/"-separated, with no empty, "."
 * or ".." component; each parent is a "dir" entry (so no path passes through a symlink or file).
 */
export function validateManifest(raw: unknown, expectSeq: number, limits: Limits = DEFAULT_LIMITS): Manifest {
  const bad = (why: string) => new IntegrityError(`workspace manifest ${expectSeq} refused: ${why}`, "the manifest on the relay is damaged or was tampered with: push again from a good copy");
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw bad("not a JSON object");
  const m = raw as Record<string, unknown>;
  if (m.format !== FORMAT) throw bad(`unknown format ${JSON.stringify(m.format)}`);
  if (m.seq !== expectSeq) throw bad(`it says seq ${JSON.stringify(m.seq)} but is stored as ${expectSeq}`);
  if (typeof m.parent !== "number" || !Number.isSafeInteger(m.parent) || m.parent < 0 || m.parent >= expectSeq) throw bad("bad parent");
  if (typeof m.created !== "string" || m.created.length > 64) throw bad("bad created time");
  if (typeof m.encrypted !== "boolean") throw bad("bad encrypted flag");
  if (typeof m.scanned !== "number" || !Number.isFinite(m.scanned)) throw bad("bad scanned time");
  if (!Array.isArray(m.entries)) throw bad("entries is not a list");
  if (m.entries.length > limits.maxEntries) throw bad(`${m.entries.length} entries (limit ${limits.maxEntries})`);
  if (typeof m.packs !== "object" || m.packs === null || Array.isArray(m.packs)) throw bad("packs is not an object");
  const packs: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const [id, size] of Object.entries(m.packs as Record<string, unknown>)) {
    if (!/^[0-9a-f]{32}$/.test(id)) throw bad(`bad pack id ${JSON.stringify(id)}`);
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0 || size > MAX_PACK_BYTES) throw bad(`bad size for pack ${id}`);
    packs[id] = size;
  }
  const kinds = new Map<string, Entry["kind"]>();
  const entries: Entry[] = [];
  let total = 0;
  for (const e of m.entries as unknown[]) {
    if (typeof e !== "object" || e === null) throw bad("an entry is not an object");
    const x = e as Record<string, unknown>;
    const path = checkPath(x.path, bad);
    if (kinds.has(path)) throw bad(`duplicate path ${JSON.stringify(path)}`);
    const slash = path.lastIndexOf("/");
    if (slash >= 0) {
      const parent = path.slice(0, slash);
      const pk = kinds.get(parent);
      if (pk !== "dir") throw bad(pk === "symlink" ? `${JSON.stringify(path)} passes through a symlink` : `${JSON.stringify(path)} has no parent directory entry before it`);
    }
    const mode = (v: unknown): number => {
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > 0o7777) throw bad(`bad mode for ${JSON.stringify(path)}`);
      return v & 0o777; // never setuid/setgid/sticky from a bucket
    };
    switch (x.kind) {
      case "dir":
        entries.push({ path, kind: "dir", mode: mode(x.mode) });
        break;
      case "file": {
        if (typeof x.size !== "number" || !Number.isSafeInteger(x.size) || x.size < 0) throw bad(`bad size for ${JSON.stringify(path)}`);
        if (x.size > limits.maxFileBytes) throw bad(`${JSON.stringify(path)} is ${x.size} bytes (limit ${limits.maxFileBytes})`);
        total += x.size;
        if (total > limits.maxTotalBytes) throw bad(`the workspace exceeds ${limits.maxTotalBytes} bytes`);
        if (typeof x.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(x.sha256)) throw bad(`bad sha256 for ${JSON.stringify(path)}`);
        if (x.stamp !== undefined && (typeof x.stamp !== "string" || x.stamp.length > 128)) throw bad(`bad stamp for ${JSON.stringify(path)}`);
        const stamp = x.stamp === undefined ? {} : { stamp: x.stamp };
        if (x.pack === undefined && x.offset === undefined) {
          entries.push({ path, kind: "file", mode: mode(x.mode), size: x.size, sha256: x.sha256, ...stamp });
          break;
        }
        if (typeof x.pack !== "string" || !/^[0-9a-f]{32}$/.test(x.pack) || packs[x.pack] === undefined) throw bad(`${JSON.stringify(path)} is in an unknown pack`);
        if (typeof x.offset !== "number" || !Number.isSafeInteger(x.offset) || x.offset < 0 || x.offset + x.size > packs[x.pack]!) throw bad(`${JSON.stringify(path)} lies outside its pack`);
        entries.push({ path, kind: "file", mode: mode(x.mode), size: x.size, sha256: x.sha256, pack: x.pack, offset: x.offset, ...stamp });
        break;
      }
      case "symlink":
        if (typeof x.target !== "string" || x.target.length === 0 || x.target.length > 4095 || x.target.includes("\0")) throw bad(`bad symlink target for ${JSON.stringify(path)}`);
        entries.push({ path, kind: "symlink", target: x.target });
        break;
      default:
        throw bad(`unknown entry kind ${JSON.stringify(x.kind)} for ${JSON.stringify(path)}`);
    }
    kinds.set(path, entries[entries.length - 1]!.kind);
  }
  const strings = (v: unknown, what: string): string[] => {
    if (!Array.isArray(v) || v.length > limits.maxEntries || v.some((s) => typeof s !== "string" || s.length > 4096)) throw bad(`bad ${what} list`);
    return v as string[];
  };
  const deleted = strings(m.deleted, "deleted");
  if (!Array.isArray(m.skipped) || m.skipped.length > limits.maxEntries) throw bad("bad skipped list");
  const skipped = (m.skipped as unknown[]).map((s) => {
    const o = s as { path?: unknown; kind?: unknown };
    if (typeof o !== "object" || o === null || typeof o.path !== "string" || typeof o.kind !== "string") throw bad("bad skipped entry");
    return { path: o.path.slice(0, 4096), kind: o.kind.slice(0, 32) };
  });
  return { format: FORMAT, seq: expectSeq, created: m.created, scanned: m.scanned, parent: m.parent, encrypted: m.encrypted, entries, packs, deleted, skipped };
}

function checkPath(v: unknown, bad: (why: string) => Error): string {
  if (typeof v !== "string" || v.length === 0 || v.length > 4096) throw bad("an entry has a missing or overlong path");
  if (v.startsWith("/")) throw bad(`absolute path ${JSON.stringify(v)}`);
  if (v.includes("\0")) throw bad(`invalid character in path ${JSON.stringify(v)}`);
  for (const part of v.split("/")) {
    if (part === "" || part === "." || part === "..") throw bad(`path ${JSON.stringify(v)} has an empty, '.' or '..' component`);
    if (Buffer.byteLength(part) > 255) throw bad(`path component too long in ${JSON.stringify(v)}`);
  }
  return v;
}
