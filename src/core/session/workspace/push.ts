/**
 * pushWorkspace: an incremental, content-addressed upload of a directory to a relay. Only contents
 * the bucket does not hold yet are uploaded; the new manifest is written LAST, after every blob it
 * names was seen in a fresh listing with the right size: that write is the commit point.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { Transform, type Readable } from "node:stream";
import { ConflictError, IntegrityError, TruncatedError } from "../../../errors.ts";
import type { Relay } from "../../../../providers/relay/types.ts";
import { ENVELOPE_BYTES, FORMAT, blobName, checkPrefix, encryptStream, expandKey, manifestName, seal, type Entry, type Manifest } from "./format.ts";
import { bufferStream, chain, listing, loadManifest, manifestSeqs, pool } from "./io.ts";
import { DEFAULT_EXCLUDES, compileExcludes, walk } from "./walk.ts";

export interface PushProgress {
  phase: "scan" | "upload" | "verify" | "commit";
  /** files hashed so far, of `files` */
  done: number;
  files: number;
  /** bytes uploaded so far */
  uploadedBytes: number;
}

export interface PushOptions {
  /** 32-byte key (deriveWorkspaceKey): blobs and manifest are AES-256-GCM encrypted */
  key?: Buffer;
  /** gitignore-ish patterns; default ["node_modules"] */
  excludes?: string[];
  signal?: AbortSignal;
  onProgress?(p: PushProgress): void;
  /** files hashed and uploaded at once (default 16) */
  concurrency?: number;
}

export interface PushResult {
  seq: number;
  manifest: Manifest;
  /** blobs uploaded by this push */
  uploaded: number;
  /** bytes uploaded by this push (as stored: with the envelope when encrypted) */
  bytes: number;
  /** paths of the previous manifest that are gone */
  deleted: number;
}

/** files up to this size are read whole (one read gives a consistent snapshot); larger ones stream */
const WHOLE_FILE = 8 << 20;

export async function pushWorkspace(dir: string, relay: Relay, prefix: string, opts: PushOptions = {}): Promise<PushResult> {
  checkPrefix(prefix);
  const key = expandKey(opts.key);
  const { signal } = opts;
  const before = await listing(relay);
  const seqs = manifestSeqs(prefix, before);
  const parent = seqs.at(-1) ?? 0;
  const previous = parent ? await loadManifest(relay, prefix, parent, key, undefined, signal) : undefined;

  const { found, skipped } = await walk(dir, compileExcludes(opts.excludes ?? DEFAULT_EXCLUDES), signal);
  const files = found.filter((f) => f.kind === "file");
  const progress: PushProgress = { phase: "scan", done: 0, files: files.length, uploadedBytes: 0 };
  const report = () => opts.onProgress?.({ ...progress });
  report();

  const stored = (size: number) => size + (key ? ENVELOPE_BYTES : 0);
  const entries: Entry[] = [];
  const shaOf = new Map<string, { sha256: string; size: number }>();
  /** blob name -> promise of its upload (dedupes identical contents within one push) */
  const pending = new Map<string, Promise<void>>();
  let uploaded = 0;

  const upload = (name: string, size: number, body: () => Readable): Promise<void> => {
    if (before.get(name) === stored(size)) return Promise.resolve();
    let p = pending.get(name);
    if (!p) {
      p = (async () => {
        const src = body();
        try {
          await relay.put(name, key ? chain(src, encryptStream(key, name)) : src, { signal });
        } catch (e) {
          src.destroy();
          throw e;
        }
        uploaded++;
        progress.uploadedBytes += stored(size);
        report();
      })();
      pending.set(name, p);
    }
    return p;
  };

  progress.phase = "upload";
  await pool(
    files,
    opts.concurrency ?? 16,
    async (f) => {
      if (f.kind !== "file") return;
      let sha256: string;
      let size: number;
      if (f.size <= WHOLE_FILE) {
        const buf = await readFile(f.abs);
        size = buf.length;
        sha256 = createHash("sha256").update(buf).digest("hex");
        await upload(blobName(prefix, sha256, key), size, () => bufferStream(buf));
      } else {
        ({ sha256, size } = await hashFile(f.abs, signal));
        // the second read is checked against the first: a file rewritten meanwhile fails the push
        await upload(blobName(prefix, sha256, key), size, () => chain(createReadStream(f.abs, { highWaterMark: 1 << 20 }), expectContent(f.path, sha256, size)));
      }
      shaOf.set(f.path, { sha256, size });
      progress.done++;
    },
    signal,
  );

  for (const f of found) {
    if (f.kind === "file") {
      const h = shaOf.get(f.path)!;
      entries.push({ path: f.path, kind: "file", mode: f.mode, size: h.size, sha256: h.sha256 });
    } else if (f.kind === "dir") entries.push({ path: f.path, kind: "dir", mode: f.mode });
    else entries.push({ path: f.path, kind: "symlink", target: f.target });
  }
  const now = new Set(entries.map((e) => e.path));
  const deleted = previous ? previous.entries.filter((e) => !now.has(e.path)).map((e) => e.path) : [];

  // Verify before the commit point: every blob the manifest will name is on the relay, whole.
  progress.phase = "verify";
  report();
  const after = await listing(relay);
  for (const e of entries) {
    if (e.kind !== "file") continue;
    const name = blobName(prefix, e.sha256, key);
    const size = after.get(name);
    if (size !== stored(e.size)) {
      throw new TruncatedError(`workspace push: blob for ${e.path} is ${size === undefined ? "missing" : `${size} bytes, expected ${stored(e.size)}`} on ${relay.uri}`, "push again; if it persists, check that nothing else deletes objects under this prefix");
    }
  }

  progress.phase = "commit";
  report();
  const seq = parent + 1;
  const object = manifestName(prefix, seq);
  // Two writers of one prefix must not both think they own seq: the controller serialises pushes,
  // this catches a second writer it does not know about.
  if ((await relay.head(object)) !== undefined || manifestSeqs(prefix, after).some((s) => s > parent)) {
    throw new ConflictError(`workspace push: manifest ${seq} of '${prefix}' appeared on ${relay.uri} during the push`, "another writer pushes this workspace: stop it, then push again");
  }
  const manifest: Manifest = { format: FORMAT, seq, created: new Date().toISOString(), parent, encrypted: key !== undefined, entries, deleted, skipped };
  const json = Buffer.from(JSON.stringify(manifest));
  const body = key ? seal(key, object, json) : json;
  await relay.put(object, bufferStream(body), { signal });
  const check = await relay.head(object);
  if (check?.size !== body.length) throw new TruncatedError(`workspace push: manifest ${seq} reads back as ${check?.size ?? "missing"} bytes, expected ${body.length}`, "push again");
  return { seq, manifest, uploaded, bytes: progress.uploadedBytes, deleted: deleted.length };
}

async function hashFile(path: string, signal?: AbortSignal): Promise<{ sha256: string; size: number }> {
  const h = createHash("sha256");
  let size = 0;
  for await (const c of createReadStream(path, { highWaterMark: 1 << 20, signal }) as AsyncIterable<Buffer>) {
    h.update(c);
    size += c.length;
  }
  return { sha256: h.digest("hex"), size };
}

/** Pass bytes through; fail at the end unless they hash to `sha256` and count `size`. */
function expectContent(path: string, sha256: string, size: number): Transform {
  const h = createHash("sha256");
  let n = 0;
  return new Transform({
    transform(c: Buffer, _e, cb) {
      h.update(c);
      n += c.length;
      if (n > size) return cb(changed(path));
      cb(null, c);
    },
    flush(cb) {
      cb(n === size && h.digest("hex") === sha256 ? null : changed(path));
    },
  });
}

const changed = (path: string) => new IntegrityError(`workspace push: ${path} changed while it was being uploaded`, "push again (the next checkpoint will)");
