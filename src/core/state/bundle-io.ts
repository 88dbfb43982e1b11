import { once } from "node:events";
import { createHash } from "node:crypto";
import { mkdir, open, readdir, rm, stat, statfs, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough, Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import { create as tarCreate, Parser, type ReadEntry } from "tar";
import { gcPace } from "../../platform/gc-pace.ts";
import type { Relay } from "../../../providers/relay/types.ts";
import { ConflictError, IntegrityError, isDevxError, messageOf } from "../../errors.ts";
import { createDecryptStream, createEncryptStream } from "./bundle/crypto.ts";
import { progressTap } from "./capture.ts";
import type { StateDeps } from "./state-deps.ts";
import { contentDigester, fileSha256 } from "./digest.ts";
import { TarGuard } from "./guard/tar-rules.ts";
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

/** What attach reads before it trusts a bundle's size: memory and disk stay bounded whatever it holds. */
export const DOWNLOAD_LIMITS = {
  /** manifest.json is read into memory before anything is known about the bundle */
  manifestBytes: 4 << 20,
  /** entries a volume tar may hold */
  volumeEntries: 2_000_000,
  /** free space left on the state directory's disk after the bundle's declared size */
  reserveBytes: 256 << 20,
};

export interface Downloaded {
  manifest: Manifest;
  /** setuid/setgid files each volume holds (the plan refuses them unless the user allows them) */
  setuid: Record<string, { paths: string[]; count: number }>;
}

/**
 * Download, decrypt and unpack a bundle into `dir` (a fresh staging directory), checking every
 * entry as it streams, before any byte of it is written: the manifest comes first and is bounded;
 * then exactly the files it lists, in its order, each with its declared size (a small bundle that
 * inflates to gigabytes is refused at the entry header), hashed on the way; every volume tar is
 * checked entry by entry (tar-rules: no links out, no devices) and its content digest computed.
 * The declared total must fit on this disk. Nothing outside `dir` is touched; on any error `dir` is
 * removed. Errors keep their kinds: PassphraseError, IntegrityError, TruncatedError (crypto),
 * NetworkError and NotFoundError (relay), ConflictError (no room).
 */
export async function downloadBundle(sd: StateDeps, relay: Relay, object: string, dir: string, passphrase: string, limits = DOWNLOAD_LIMITS): Promise<Downloaded> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, "containers"), { recursive: true, mode: 0o700 });
  await mkdir(join(dir, "volumes"), { recursive: true, mode: 0o700 });
  let reader: BundleReader | undefined;
  try {
    const { body, size } = await relay.get(object, { signal: sd.signal });
    reader = new BundleReader(dir, limits);
    const r = reader;
    // gunzip in 128 KiB chunks, not zlib's 16 KiB: a text volume inflating ~15x made so many small
    // buffers that what survived each collection crept up (4 GiB attach: floor 90 -> 112 MiB)
    await pipeline(body, progressTap(sd, "download", "download", size), createDecryptStream(passphrase) as Transform, createGunzip({ chunkSize: 128 << 10 }), async function (source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        // plaintext as well as the tap's ciphertext: text volumes inflate ~15× in gunzip
        gcPace(chunk.length);
        await r.write(chunk);
      }
      await r.end();
    });
    return r.result();
  } catch (e) {
    // an entry half-written when the stream failed: its file is closed before the directory goes
    await reader?.abort(e);
    await rm(dir, { recursive: true, force: true });
    if (isDevxError(e) || (e instanceof Error && e.name === "AbortError")) throw e;
    throw new IntegrityError(`the bundle's content cannot be unpacked: ${messageOf(e)}`, TAMPER, { cause: e });
  }
}

interface Expected {
  file: string;
  size: number;
  sha256: string;
  volume?: Manifest["volumes"][number];
}

/** The bundle's tar, entry by entry, one at a time (an entry is handled only once the one before it is). */
class BundleReader {
  private readonly parser = new Parser({ strict: true });
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown;
  private manifest?: Manifest;
  private expected: Expected[] = [];
  private next = 0;
  private readonly ended: Promise<void>;
  private readonly setuid: Downloaded["setuid"] = {};
  /** the entry being read, ended with an error if the stream fails under it */
  private current?: ReadEntry;

  constructor(
    private readonly dir: string,
    private readonly limits: typeof DOWNLOAD_LIMITS,
  ) {
    this.ended = new Promise((resolve) => {
      this.parser.on("end", () => resolve());
      this.parser.on("error", (e: unknown) => {
        this.failure ??= e;
        resolve();
      });
    });
    this.parser.on("entry", (e: ReadEntry) => {
      this.chain = this.chain
        .then(() => {
          this.current = e;
          return this.failure === undefined ? this.entry(e) : undefined;
        })
        .catch((err: unknown) => void (this.failure ??= err))
        .finally(() => e.resume());
    });
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (!this.parser.write(chunk)) await Promise.race([once(this.parser, "drain"), this.ended]);
    if (this.failure !== undefined) throw this.failure;
  }

  async end(): Promise<void> {
    this.parser.end();
    await this.ended;
    await this.chain;
    if (this.failure !== undefined) throw this.failure;
    if (!this.manifest) throw new IntegrityError("the bundle does not start with its manifest", TAMPER);
    const missing = this.expected[this.next];
    if (missing) throw new IntegrityError(`${missing.file} listed in the manifest is missing`, TAMPER);
  }

  /** The stream failed: end the entry in flight (its reader would otherwise wait for bytes that never come). */
  async abort(cause: unknown): Promise<void> {
    this.failure ??= cause;
    const err = cause instanceof Error ? cause : new Error(String(cause));
    // both emit the error again, which throws where nothing listens any more: it is known already
    try {
      this.current?.destroy(err);
    } catch {
      /* known */
    }
    try {
      this.parser.abort(err);
    } catch {
      /* known */
    }
    await this.chain;
  }

  result(): Downloaded {
    return { manifest: this.manifest!, setuid: this.setuid };
  }

  private async entry(e: ReadEntry): Promise<void> {
    const isFile = e.type === "File" || e.type === "OldFile";
    if (!this.manifest) {
      if (e.path !== MANIFEST_FILE || !isFile) throw new IntegrityError("the bundle does not start with its manifest", TAMPER);
      if ((e.size ?? 0) > this.limits.manifestBytes) throw new IntegrityError(`the bundle's manifest is ${e.size} bytes; devx reads at most ${this.limits.manifestBytes}`, TAMPER);
      const chunks: Buffer[] = [];
      for await (const c of e as AsyncIterable<Buffer>) chunks.push(c);
      const text = Buffer.concat(chunks).toString("utf8");
      const m = parseManifest(text, "bundle");
      this.expected = [
        ...m.containers.flatMap((c) => (c.archive ? [{ file: c.archive.file, size: c.archive.size, sha256: c.archive.sha256 }] : [])),
        ...m.volumes.map((v) => ({ file: v.file, size: v.size, sha256: v.sha256, volume: v })),
      ];
      await this.checkRoom(this.expected.reduce((n, x) => n + x.size, 0));
      await writeFile(join(this.dir, MANIFEST_FILE), text, { mode: 0o600 });
      this.manifest = m;
      return;
    }
    const want = this.expected[this.next++];
    if (!want || e.path !== want.file || !isFile) throw new IntegrityError(`the bundle holds an unexpected entry '${e.path}'`, TAMPER);
    if (e.size !== want.size) throw new IntegrityError(`${want.file} is ${e.size} bytes in the bundle; its manifest says ${want.size}`, TAMPER);
    const hash = createHash("sha256");
    const v = want.volume;
    const guard = v ? new TarGuard({ what: `volume ${v.name}`, maxEntries: this.limits.volumeEntries, maxBytes: v.size }) : undefined;
    const content = guard ? contentDigester(guard) : undefined;
    const fh = await open(join(this.dir, want.file), "wx", 0o600);
    try {
      for await (const c of e as AsyncIterable<Buffer>) {
        hash.update(c);
        if (content) await content.write(c);
        await fh.write(c);
      }
    } finally {
      await fh.close();
    }
    if (hash.digest("hex") !== want.sha256) throw new IntegrityError(`${want.file} does not match the SHA-256 in the manifest`, TAMPER);
    if (v && content && guard) {
      if ((await content.finish()) !== v.contentDigest) throw new IntegrityError(`volume ${v.name}: its content does not match the manifest's digest`, TAMPER);
      if (guard.setuidCount > 0) this.setuid[v.name] = { paths: guard.setuid, count: guard.setuidCount };
    }
  }

  /** the declared size must fit, with room to spare, before a byte of it is written */
  private async checkRoom(declared: number): Promise<void> {
    const fs = await statfs(this.dir).catch(() => undefined);
    if (!fs) return;
    const free = Number(fs.bavail) * Number(fs.bsize);
    if (declared + this.limits.reserveBytes > free) {
      throw new ConflictError(`the bundle holds ${(declared / 2 ** 30).toFixed(2)} GiB, and ${this.dir} has ${(free / 2 ** 30).toFixed(2)} GiB free`, "free some disk space (`devx state prune` removes old restore points), then attach again");
    }
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
