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
import { ENVELOPE_BYTES, FORMAT, blobName, checkPrefix, encryptStream, expandKey, manifestName, newPackId, packName, pointerName, seal, type Entry, type Manifest } from "./format.ts";
import { bufferStream, chain, listing, loadManifest, locateLatest, pool } from "./io.ts";
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
  /** files up to this size go into packs (default 1 MiB; 0: one blob per file) */
  packFileMax?: number;
  /**
   * a pack is closed and uploaded once it holds this much (default 4 MiB, at most 64 MiB): with
   * files ≤ 1 MiB a pack stays under 5 MiB, one PUT (no multipart upload to create, complete, and
   * have the store reassemble)
   */
  packTarget?: number;
  /** hash every file, ignoring the stat cache of the previous manifest */
  rehash?: boolean;
  /** clock for the manifest's `scanned` time (tests) */
  now?: () => number;
}

export interface PushResult {
  seq: number;
  manifest: Manifest;
  /** objects (blobs and packs) uploaded by this push */
  uploaded: number;
  /** bytes uploaded by this push (as stored: with the envelope when encrypted) */
  bytes: number;
  /** paths of the previous manifest that are gone */
  deleted: number;
  /** files read and hashed (the others were known unchanged from the stat cache) */
  hashed: number;
}

/** files up to this size are read whole (one read gives a consistent snapshot); larger ones stream */
const WHOLE_FILE = 8 << 20;

/** where a content lives on the relay */
type Loc = { pack: string; offset: number } | { pack?: undefined };

export async function pushWorkspace(dir: string, relay: Relay, prefix: string, opts: PushOptions = {}): Promise<PushResult> {
  checkPrefix(prefix);
  const key = expandKey(opts.key);
  const { signal } = opts;
  // `before` (a listing) exists only when the pointer could not be used; without it, what the
  // previous manifest references is taken as present: it was verified when that manifest was
  // committed, and gc never deletes what the newest manifests reference.
  const { seq: parent, list: before } = await locateLatest(relay, prefix, signal);
  const previous = parent ? await loadManifest(relay, prefix, parent, key, undefined, signal) : undefined;

  const scanned = (opts.now ?? Date.now)();
  const { found, skipped } = await walk(dir, compileExcludes(opts.excludes ?? DEFAULT_EXCLUDES), signal);
  const files = found.filter((f) => f.kind === "file");
  const progress: PushProgress = { phase: "scan", done: 0, files: files.length, uploadedBytes: 0 };
  const report = () => opts.onProgress?.({ ...progress });
  report();

  const stored = (size: number) => size + (key ? ENVELOPE_BYTES : 0);
  const packFileMax = Math.min(opts.packFileMax ?? 1 << 20, WHOLE_FILE);
  const packTarget = Math.min(opts.packTarget ?? 4 << 20, 64 << 20);
  const entries: Entry[] = [];
  const shaOf = new Map<string, { sha256: string; size: number; loc: Loc; stamp: string }>();
  const packs: Record<string, number> = Object.create(null) as Record<string, number>;

  // Contents the previous manifest holds are reused where they are, if still on the relay whole.
  const known = new Map<string, Loc>();
  if (previous) {
    for (const e of previous.entries) {
      if (e.kind !== "file" || known.has(e.sha256)) continue;
      if (e.pack !== undefined) {
        const size = previous.packs[e.pack]!;
        if (!before || before.get(packName(prefix, e.pack)) === stored(size)) known.set(e.sha256, { pack: e.pack, offset: e.offset! });
      } else if (!before || before.get(blobName(prefix, e.sha256, key)) === stored(e.size)) known.set(e.sha256, {});
    }
  }
  const prevPackSize = (id: string) => previous?.packs[id];
  // Stat cache: a file whose inode, size, mtime and ctime equal those the previous push recorded,
  // and whose ctime is well before that push began (so it cannot have changed within one
  // timestamp tick of being read), has the content recorded then: it is not read again.
  const cached = new Map<string, { sha256: string; size: number }>();
  if (previous && !opts.rehash) {
    for (const e of previous.entries) if (e.kind === "file" && e.stamp !== undefined) cached.set(`${e.path}\0${e.stamp}`, { sha256: e.sha256, size: e.size });
  }
  const fromCache = (f: { path: string; stamp: string; ctimeMs: number }) => (previous && f.ctimeMs < previous.scanned - 2000 ? cached.get(`${f.path}\0${f.stamp}`) : undefined);

  let uploaded = 0;
  let hashed = 0;
  /** objects this push uploaded -> their stored size */
  const fresh = new Map<string, number>();
  /** blob name -> its upload (dedupes identical large contents within one push) */
  const pending = new Map<string, Promise<void>>();
  const uploads = new Set<Promise<void>>();
  let uploadError: { e: unknown } | undefined;
  const track = (p: Promise<void>) => {
    const t = p.then(
      () => {},
      (e) => {
        uploadError ??= { e };
      },
    );
    uploads.add(t);
    void t.finally(() => uploads.delete(t));
  };
  const putObject = async (name: string, size: number, src: Readable) => {
    try {
      await relay.put(name, key ? chain(src, encryptStream(key, name)) : src, { signal });
    } catch (e) {
      src.destroy();
      throw e;
    }
    uploaded++;
    fresh.set(name, stored(size));
    progress.uploadedBytes += stored(size);
    report();
  };
  const uploadBlob = (name: string, size: number, body: () => Readable): Promise<void> => {
    if (before?.get(name) === stored(size)) return Promise.resolve();
    let p = pending.get(name);
    // without a listing, a HEAD finds a blob an earlier (killed) push left: blobs are big enough
    // for one request to be cheaper than uploading them again
    const present = async () => !before && (await relay.head(name))?.size === stored(size);
    if (!p) pending.set(name, (p = present().then((yes) => (yes ? undefined : putObject(name, size, body())))));
    return p;
  };

  let pack: { id: string; parts: Buffer[]; size: number } | undefined;
  const packSizes = new Map<string, number>();
  const closePack = async () => {
    if (!pack) return;
    const { id, parts, size } = pack;
    pack = undefined;
    // bounded memory: at most 4 closed packs in flight
    while (uploads.size >= 4) await Promise.race(uploads);
    const name = packName(prefix, id);
    const plain = Buffer.concat(parts, size);
    packSizes.set(id, size);
    track(putObject(name, size, bufferStream(plain)));
  };

  progress.phase = "upload";
  await pool(
    files,
    opts.concurrency ?? 16,
    async (f) => {
      if (f.kind !== "file") return;
      if (uploadError) throw uploadError.e;
      let sha256: string;
      let size: number;
      let loc: Loc;
      const hit = fromCache(f);
      if (hit && known.has(hit.sha256)) {
        ({ sha256, size } = hit);
        loc = known.get(sha256)!;
      } else if ((hashed++, f.size <= WHOLE_FILE)) {
        const buf = await readFile(f.abs);
        size = buf.length;
        sha256 = createHash("sha256").update(buf).digest("hex");
        const have = known.get(sha256);
        if (have) loc = have;
        else if (size <= packFileMax) {
          pack ??= { id: newPackId(), parts: [], size: 0 };
          loc = { pack: pack.id, offset: pack.size };
          pack.parts.push(buf);
          pack.size += size;
          known.set(sha256, loc);
          if (pack.size >= packTarget) await closePack();
        } else {
          loc = {};
          await uploadBlob(blobName(prefix, sha256, key), size, () => bufferStream(buf));
        }
      } else {
        ({ sha256, size } = await hashFile(f.abs, signal));
        loc = known.get(sha256) ?? {};
        // the second read is checked against the first: a file rewritten meanwhile fails the push
        if (!known.has(sha256)) await uploadBlob(blobName(prefix, sha256, key), size, () => chain(createReadStream(f.abs, { highWaterMark: 1 << 20 }), expectContent(f.path, sha256, size)));
      }
      shaOf.set(f.path, { sha256, size, loc, stamp: f.stamp });
      progress.done++;
    },
    signal,
  );
  await closePack();
  await Promise.all(uploads);
  if (uploadError) throw uploadError.e;

  for (const f of found) {
    if (f.kind === "file") {
      const h = shaOf.get(f.path)!;
      if (h.loc.pack !== undefined) {
        packs[h.loc.pack] = prevPackSize(h.loc.pack) ?? packSizes.get(h.loc.pack)!;
        entries.push({ path: f.path, kind: "file", mode: f.mode, size: h.size, sha256: h.sha256, pack: h.loc.pack, offset: h.loc.offset, stamp: h.stamp });
      } else entries.push({ path: f.path, kind: "file", mode: f.mode, size: h.size, sha256: h.sha256, stamp: h.stamp });
    } else if (f.kind === "dir") entries.push({ path: f.path, kind: "dir", mode: f.mode });
    else entries.push({ path: f.path, kind: "symlink", target: f.target });
  }
  const now = new Set(entries.map((e) => e.path));
  const deleted = previous ? previous.entries.filter((e) => !now.has(e.path)).map((e) => e.path) : [];

  // Verify before the commit point: every object this push uploaded is on the relay, whole (the
  // ones it reuses were seen in `before`, or are the previous manifest's). Many are checked with
  // one listing, few with HEADs.
  progress.phase = "verify";
  report();
  const after = fresh.size > 32 ? await listing(relay) : new Map<string, number>();
  // A listing may lag behind a PUT that returned (s3rver, some S3-compatible stores): a mismatch is
  // asked again with HEAD, a few times with a short backoff, before the push is refused.
  const confirm = async (name: string, want: number) => {
    let size = after.get(name);
    for (let attempt = 0; size !== want && attempt < 4; attempt++) {
      if (attempt > 1) await Bun.sleep(100 * 2 ** attempt);
      size = (await relay.head(name))?.size;
    }
    if (size !== want) {
      throw new TruncatedError(`workspace push: object ${name} is ${size === undefined ? "missing" : `${size} bytes, expected ${want}`} on ${relay.uri}`, "push again; if it persists, check that nothing else deletes objects under this prefix");
    }
  };
  await pool([...fresh], 8, ([name, size]) => confirm(name, size), signal);

  progress.phase = "commit";
  report();
  const seq = parent + 1;
  const object = manifestName(prefix, seq);
  // Two writers of one prefix must not both think they own seq: the controller serialises pushes,
  // this catches a second writer it does not know about.
  if ((await relay.head(object)) !== undefined) {
    throw new ConflictError(`workspace push: manifest ${seq} of '${prefix}' appeared on ${relay.uri} during the push`, "another writer pushes this workspace: stop it, then push again");
  }
  const manifest: Manifest = { format: FORMAT, seq, created: new Date().toISOString(), scanned, parent, encrypted: key !== undefined, entries, packs, deleted, skipped };
  const json = Buffer.from(JSON.stringify(manifest));
  const body = key ? seal(key, object, json) : json;
  await relay.put(object, bufferStream(body), { signal });
  const check = await relay.head(object);
  if (check?.size !== body.length) throw new TruncatedError(`workspace push: manifest ${seq} reads back as ${check?.size ?? "missing"} bytes, expected ${body.length}`, "push again");
  // After the commit point, only a hint: a failure here costs the next push one listing.
  await relay.put(pointerName(prefix), bufferStream(Buffer.from(JSON.stringify({ seq })))).catch(() => {});
  return { seq, manifest, uploaded, bytes: progress.uploadedBytes, deleted: deleted.length, hashed };
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
