/**
 * pullWorkspace: materialise the latest manifest of a prefix into a directory. The manifest and
 * every blob are hostile input: paths are validated (format.ts validateManifest), sizes capped,
 * every blob's SHA-256 checked before its file is renamed into place. The tree is built in a
 * staging directory next to `dir` and renamed to `dir` only once complete, so a refused or failed
 * pull writes nothing into `dir` and leaves nothing behind.
 */
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { chmod, mkdir, readdir, rename, rm, rmdir, symlink, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ConflictError, IntegrityError } from "../../../errors.ts";
import type { Relay } from "../../../../providers/relay/types.ts";
import { DEFAULT_LIMITS, ENVELOPE_BYTES, blobName, checkPrefix, decryptStream, expandKey, packName, unseal, type Entry, type Limits } from "./format.ts";
import { listing, loadManifest, manifestSeqs, noManifest, pool, readObject } from "./io.ts";

export interface PullOptions {
  key?: Buffer;
  /** refuse a latest manifest older than this (a stale listing must not roll work back) */
  minSeq?: number;
  signal?: AbortSignal;
  limits?: Partial<Limits>;
  /** blobs downloaded at once (default 16) */
  concurrency?: number;
}

export interface PullResult {
  seq: number;
  files: number;
  bytes: number;
}

export async function pullWorkspace(relay: Relay, prefix: string, dir: string, opts: PullOptions = {}): Promise<PullResult> {
  checkPrefix(prefix);
  const key = expandKey(opts.key);
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const { signal } = opts;
  const list = await listing(relay);
  const seq = manifestSeqs(prefix, list).at(-1);
  if (seq === undefined) throw noManifest(prefix, relay);
  if (opts.minSeq !== undefined && seq < opts.minSeq) {
    throw new ConflictError(`workspace '${prefix}': the latest manifest on ${relay.uri} is ${seq}, older than the ${opts.minSeq} already known`, "the relay's listing is stale or a newer checkpoint was lost: retry shortly; do not resume from it");
  }
  const manifest = await loadManifest(relay, prefix, seq, key, limits, signal);

  const target = resolve(dir);
  const existing = await readdir(target).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return undefined;
    throw e;
  });
  if (existing && existing.length > 0) throw new ConflictError(`workspace pull: ${target} is not empty`, "pull into a new or empty directory");
  await mkdir(dirname(target), { recursive: true });
  const stage = join(dirname(target), `.${basename(target)}.pull-${randomBytes(6).toString("hex")}`);
  await mkdir(stage, { mode: 0o700 });
  try {
    // Parents come before children in a valid manifest, and no path passes through a symlink or
    // file entry; mkdir without `recursive` and O_EXCL creates also refuse anything already there.
    for (const e of manifest.entries) if (e.kind === "dir") await mkdir(join(stage, e.path), { mode: 0o700 });
    let bytes = 0;
    type FileEntry = Extract<Entry, { kind: "file" }>;
    const files = manifest.entries.filter((e): e is FileEntry => e.kind === "file");
    const wrong = (e: FileEntry) => new IntegrityError(`workspace pull: content of ${e.path} does not match its SHA-256`, "the bucket holds a damaged or altered object: push again from a good copy");
    /** write verified bytes under a temp name, then chmod and rename into place */
    const place = async (e: FileEntry, data: Buffer) => {
      if (data.length !== e.size || createHash("sha256").update(data).digest("hex") !== e.sha256) throw wrong(e);
      const final = join(stage, e.path);
      const tmp = join(dirname(final), `.devx-pull-${randomBytes(6).toString("hex")}`);
      try {
        await writeFile(tmp, data, { flag: "wx", mode: 0o600 });
        await chmod(tmp, e.mode);
        await rename(tmp, final);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
      bytes += e.size;
    };
    const byPack = new Map<string, FileEntry[]>();
    for (const e of files) if (e.pack !== undefined) byPack.set(e.pack, [...(byPack.get(e.pack) ?? []), e]);
    // packs are read whole (at most MAX_PACK_BYTES each), 4 at a time
    await pool(
      [...byPack.entries()],
      4,
      async ([id, members]) => {
        const object = packName(prefix, id);
        const size = manifest.packs[id]!;
        const raw = await readObject(relay, object, size + (key ? ENVELOPE_BYTES : 0), signal);
        const plain = key ? unseal(key, object, raw) : raw;
        if (plain.length !== size) throw new IntegrityError(`workspace pull: pack ${id} is ${plain.length} bytes, the manifest says ${size}`, "the bucket holds a damaged object: push again from a good copy");
        for (const e of members) await place(e, plain.subarray(e.offset!, e.offset! + e.size));
      },
      signal,
    );
    await pool(
      files.filter((e) => e.pack === undefined),
      opts.concurrency ?? 16,
      async (e) => {
        const object = blobName(prefix, e.sha256, key);
        const expected = e.size + (key ? ENVELOPE_BYTES : 0);
        const final = join(stage, e.path);
        const tmp = join(dirname(final), `.devx-pull-${randomBytes(6).toString("hex")}`);
        const { body, size } = await relay.get(object, { signal });
        if (size !== undefined && size !== expected) {
          body.destroy();
          throw new IntegrityError(`workspace pull: blob for ${e.path} is ${size} bytes, the manifest says ${expected}`, "the bucket holds a damaged object: push again from a good copy");
        }
        const hash = createHash("sha256");
        let n = 0;
        const check = new Transform({
          transform(c: Buffer, _enc, cb) {
            n += c.length;
            if (n > e.size) return cb(new IntegrityError(`workspace pull: blob for ${e.path} is larger than the ${e.size} bytes the manifest says`, "the bucket holds a damaged object"));
            hash.update(c);
            cb(null, c);
          },
        });
        try {
          const out = createWriteStream(tmp, { flags: "wx", mode: 0o600 });
          if (key) await pipeline(body, decryptStream(key, object), check, out, { signal });
          else await pipeline(body, check, out, { signal });
          if (n !== e.size || hash.digest("hex") !== e.sha256) throw wrong(e);
          await chmod(tmp, e.mode);
          await rename(tmp, final);
        } catch (err) {
          await rm(tmp, { force: true });
          throw err;
        }
        bytes += e.size;
      },
      signal,
    );
    for (const e of manifest.entries) if (e.kind === "symlink") await symlink(e.target, join(stage, e.path));
    // deepest first, so a read-only directory does not block its children
    const dirs = manifest.entries.filter((e) => e.kind === "dir").reverse();
    for (const e of dirs) if (e.kind === "dir") await chmod(join(stage, e.path), e.mode);
    if (existing) await rmdir(target);
    await rename(stage, target);
    return { seq, files: files.length, bytes };
  } catch (err) {
    await makeRemovable(stage);
    await rm(stage, { recursive: true, force: true });
    throw err;
  }
}

/** chmod u+rwx every directory under `root` (not following symlinks) so rm can clear it */
async function makeRemovable(root: string): Promise<void> {
  const walkDirs = async (d: string): Promise<void> => {
    await chmod(d, 0o700).catch(() => {});
    const items = await readdir(d, { withFileTypes: true }).catch(() => []);
    for (const it of items) if (it.isDirectory()) await walkDirs(join(d, it.name));
  };
  await walkDirs(root);
}
