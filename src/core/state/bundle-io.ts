import { once } from "node:events";
import { mkdir, readdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough, Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import { create as tarCreate, Unpack, type ReadEntry } from "tar";
import { gcPace } from "../../platform/gc-pace.ts";
import type { Relay } from "../../../providers/relay/types.ts";
import { IntegrityError, isDevxError, messageOf } from "../../errors.ts";
import { createDecryptStream, createEncryptStream } from "./bundle/crypto.ts";
import { progressTap } from "./capture.ts";
import type { StateDeps } from "./context.ts";
import { fileSha256 } from "./digest.ts";
import { MANIFEST_FILE, parseManifest, type Manifest } from "./manifest.ts";

/**
 * The bundle is a snapshot directory as one stream: tar (manifest.json first, then the checkpoint
 * archives and volume tars, in manifest order) → gzip → chunked AEAD (bundle/crypto.ts). Upload
 * and download stream end to end; memory stays bounded by a few chunks whatever the size.
 */
export function bundleFiles(m: Manifest): string[] {
  return [MANIFEST_FILE, ...m.containers.flatMap((c) => (c.archive ? [c.archive.file] : [])), ...m.volumes.map((v) => v.file)];
}

const TAMPER = "the bundle does not match its manifest: ask for a new share";

/** Upload the snapshot in `dir` as an encrypted bundle; returns the ciphertext bytes stored. */
export async function uploadBundle(sd: StateDeps, relay: Relay, object: string, dir: string, m: Manifest, opts: { passphrase: string; level: number; iterations?: number }): Promise<number> {
  const files = bundleFiles(m);
  // the tap counts the tar stream: each file's 512-byte header and its padding to 512, then the
  // two zero blocks that end the archive (the names are short: no extended headers)
  let total = 1024;
  for (const f of files) total += 512 + Math.ceil((await stat(join(dir, f))).size / 512) * 512;
  // small reads: tar's default (16 MiB per read) would hold tens of MiB per file in flight
  const pack = tarCreate({ cwd: dir, portable: true, noDirRecurse: true, gzip: false, maxReadSize: 1 << 20 }, files);
  const encrypt = await createEncryptStream(opts.passphrase, opts.iterations ? { iterations: opts.iterations } : {});
  let bytes = 0;
  const body = new PassThrough({ highWaterMark: 1 << 20 });
  const count = new Transform({
    transform(c: Buffer, _e, cb) {
      bytes += c.length;
      cb(null, c);
    },
  });
  // zlib's default 16 KiB output chunks are many small buffers for the collector (see the download)
  const produce = pipeline(Readable.from(pack as unknown as AsyncIterable<Buffer>), progressTap(sd, "upload", "upload", total), createGzip({ level: opts.level, chunkSize: 128 << 10 }), encrypt, count, body);
  const put = relay.put(object, body, { signal: sd.signal });
  // either side failing must stop the other: a dead upload must not leave tar waiting on a full pipe
  await Promise.all([produce.catch((e) => (body.destroy(e), Promise.reject(e))), put.catch((e) => (body.destroy(e), Promise.reject(e)))]);
  return bytes;
}

/**
 * Download, decrypt and unpack a bundle into `dir` (a fresh staging directory), then check every
 * file against the manifest. Nothing outside `dir` is touched; on any error `dir` is removed. Errors
 * keep their kinds: PassphraseError, IntegrityError, TruncatedError (crypto), NetworkError and
 * NotFoundError (relay).
 */
export async function downloadBundle(sd: StateDeps, relay: Relay, object: string, dir: string, passphrase: string): Promise<Manifest> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  let unpack: Unpack | undefined;
  let unpackClosed: Promise<void> | undefined;
  try {
    const { body, size } = await relay.get(object, { signal: sd.signal });
    let first: string | undefined;
    let bad: string | undefined;
    const u = (unpack = new Unpack({
      cwd: dir,
      strict: true,
      // only the shapes a bundle can hold: no links, no directories outside containers/ and volumes/
      filter: (path: string, entry: ReadEntry | import("node:fs").Stats) => {
        const type = (entry as ReadEntry).type;
        first ??= path;
        const ok = (type === "File" || type === "OldFile") && (path === MANIFEST_FILE || /^(containers\/[A-Za-z0-9][A-Za-z0-9_.-]*\.tar\.zst|volumes\/[A-Za-z0-9][A-Za-z0-9_.-]*\.tar)$/.test(path));
        if (!ok) bad ??= path;
        return ok && !bad;
      },
    }));
    let unpackError: unknown;
    // settles on close or on the first error: after an error the unpacker may never close
    unpackClosed = new Promise<void>((resolve) => {
      u.on("close", () => resolve());
      // the listener stays for the unpacker's whole life: a write still in flight when the download
      // fails must not surface as an unhandled error after the staging dir is gone
      u.on("error", (e: unknown) => {
        unpackError ??= e;
        resolve();
      });
    });
    // gunzip in 128 KiB chunks, not zlib's 16 KiB: a text volume inflating ~15x made so many small
    // buffers that what survived each collection crept up (4 GiB attach: floor 90 -> 112 MiB, peak
    // 129); now peak ~102 MiB and the download 30% faster
    await pipeline(body, progressTap(sd, "download", "download", size), createDecryptStream(passphrase) as Transform, createGunzip({ chunkSize: 128 << 10 }), async function (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        // plaintext as well as the tap's ciphertext: text volumes inflate ~15× in gunzip
        gcPace(chunk.length);
        if (unpackError) throw unpackError;
        if (!u.write(chunk)) await Promise.race([once(u, "drain"), unpackClosed]);
      }
      u.end();
      await unpackClosed;
      if (unpackError) throw unpackError;
    });
    if (bad) throw new IntegrityError(`the bundle holds an unexpected entry '${bad}'`, TAMPER);
    if (first !== MANIFEST_FILE) throw new IntegrityError("the bundle does not start with its manifest", TAMPER);
    const m = parseManifest(await readFile(join(dir, MANIFEST_FILE), "utf8"), "bundle");
    await checkFiles(dir, m);
    return m;
  } catch (e) {
    if (unpack && unpackClosed) {
      // stop the unpacker and let its pending writes settle before the staging dir goes
      unpack.abort(e instanceof Error ? e : new Error(String(e)));
      await Promise.race([unpackClosed, new Promise((r) => setTimeout(r, 2000).unref?.())]);
    }
    await rm(dir, { recursive: true, force: true });
    if (isDevxError(e) || (e instanceof Error && e.name === "AbortError")) throw e;
    throw new IntegrityError(`the bundle's content cannot be unpacked: ${messageOf(e)}`, TAMPER, { cause: e });
  }
}

/** Every file the manifest lists is present with its size and SHA-256, and nothing else is. */
export async function checkFiles(dir: string, m: Manifest): Promise<void> {
  const expected = [
    ...m.containers.flatMap((c) => (c.archive ? [{ file: c.archive.file, size: c.archive.size, sha256: c.archive.sha256 }] : [])),
    ...m.volumes.map((v) => ({ file: v.file, size: v.size, sha256: v.sha256 })),
  ];
  for (const e of expected) {
    const got = await fileSha256(join(dir, e.file)).catch(() => undefined);
    if (!got) throw new IntegrityError(`${e.file} listed in the manifest is missing`, TAMPER);
    if (got.size !== e.size || got.sha256 !== e.sha256) throw new IntegrityError(`${e.file} does not match the SHA-256 in the manifest`, TAMPER);
  }
  const listed = new Set(expected.map((e) => e.file));
  for (const sub of ["containers", "volumes"]) {
    for (const f of await readdir(join(dir, sub)).catch(() => [] as string[])) {
      if (!listed.has(`${sub}/${f}`)) throw new IntegrityError(`${sub}/${f} is not listed in the manifest`, TAMPER);
    }
  }
}
