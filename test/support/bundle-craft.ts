import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { Header } from "tar";
import { createEncryptStream } from "../../src/core/state/bundle/crypto.ts";
import { newObjectName } from "../../src/core/state/bundle/share-id.ts";
import { tarContentDigest } from "../../src/core/state/digest.ts";

/**
 * Hostile archives for tests: tars written header by header (so they can hold what no archiver
 * would write from a real tree: a file through a symlink, a device, a size that lies), and
 * bundles made of them, encrypted with a known passphrase as a teammate's devx would.
 */
export type EntryType = "File" | "Directory" | "SymbolicLink" | "Link" | "CharacterDevice" | "BlockDevice" | "FIFO";

export interface CraftEntry {
  path: string;
  type?: EntryType;
  body?: string | Buffer;
  mode?: number;
  linkpath?: string;
  /** the size the header claims (default: the body's) */
  size?: number;
}

export function craftTar(entries: CraftEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? "File";
    const body = e.body === undefined ? Buffer.alloc(0) : Buffer.from(e.body);
    const h = new Header({ path: e.path, type, mode: e.mode ?? (type === "Directory" ? 0o755 : 0o644), size: e.size ?? body.length, linkpath: e.linkpath ?? "", uid: 0, gid: 0, mtime: new Date(0), uname: "", gname: "", devmaj: 1, devmin: 3 });
    h.encode();
    parts.push(Buffer.from(h.block!));
    parts.push(body);
    if (body.length % 512) parts.push(Buffer.alloc(512 - (body.length % 512)));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

export interface CraftVolume {
  name: string;
  tar: Buffer;
  labels?: Record<string, string>;
}

/** A db-only share manifest listing `volumes` with their true sizes, hashes and content digests. */
export async function volumeManifest(volumes: CraftVolume[], extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const entries = [];
  for (const v of volumes) {
    entries.push({ name: v.name, labels: v.labels ?? { "devx.managed": "true", "devx.kind": "database" }, file: `volumes/${v.name}.tar`, size: v.tar.length, sha256: sha(v.tar), contentDigest: await tarContentDigest(Readable.from([v.tar])) });
  }
  return { formatVersion: 1, kind: "share", name: "crafted", created: new Date(0).toISOString(), mode: "db-only", host: { os: "linux", arch: "x64" }, runtime: { name: "podman", version: "4.3.1" }, containers: [], volumes: entries, ...extra };
}

/** The bundle's own tar: manifest.json, then each volume, in the manifest's order. */
export function bundleTar(manifest: Record<string, unknown>, volumes: CraftVolume[], tweak: (entries: CraftEntry[]) => CraftEntry[] = (x) => x): Buffer {
  const entries: CraftEntry[] = [{ path: "manifest.json", body: JSON.stringify(manifest) }, ...volumes.map((v) => ({ path: `volumes/${v.name}.tar`, body: v.tar }))];
  return craftTar(tweak(entries));
}

/** Encrypt `plainTar` (gzip, then devx's AEAD stream) into `relayDir`; returns the object name. */
export async function storeBundle(relayDir: string, passphrase: string, plainTar: Buffer | Readable, opts: { iterations?: number } = {}): Promise<string> {
  const object = newObjectName();
  const chunks: Buffer[] = [];
  await pipeline(Buffer.isBuffer(plainTar) ? Readable.from([plainTar]) : plainTar, createGzip({ level: 1 }), await createEncryptStream(passphrase, { iterations: opts.iterations ?? 100_000 }), async function (src: AsyncIterable<Buffer>) {
    for await (const c of src) chunks.push(c);
  });
  writeFileSync(join(relayDir, object), Buffer.concat(chunks));
  return object;
}

/** The entries of a plain tar (as craftTar takes them), bodies included. */
export async function parseTar(buf: Buffer): Promise<CraftEntry[]> {
  const { Parser } = await import("tar");
  const out: CraftEntry[] = [];
  const p = new Parser({ strict: true });
  const done = new Promise<void>((res, rej) => {
    p.on("end", () => res());
    p.on("error", rej);
  });
  p.on("entry", (e) => {
    const chunks: Buffer[] = [];
    e.on("data", (c: Buffer) => chunks.push(c));
    e.on("end", () => out.push({ path: e.path, type: e.type as EntryType, mode: e.mode, linkpath: e.linkpath || undefined, body: Buffer.concat(chunks) }));
  });
  p.end(buf);
  await done;
  return out;
}

/** Decrypt and unpack a stored bundle into its entries (what a teammate with the passphrase can do). */
export async function openBundle(relayDir: string, object: string, passphrase: string): Promise<CraftEntry[]> {
  const { createDecryptStream } = await import("../../src/core/state/bundle/crypto.ts");
  const { createReadStream } = await import("node:fs");
  const { createGunzip } = await import("node:zlib");
  const chunks: Buffer[] = [];
  await pipeline(createReadStream(join(relayDir, object)), createDecryptStream(passphrase) as import("node:stream").Transform, createGunzip(), async function (src: AsyncIterable<Buffer>) {
    for await (const c of src) chunks.push(c);
  });
  return parseTar(Buffer.concat(chunks));
}

/**
 * A bundle rebuilt after `edit` changed its entries (a checkpoint archive, a volume tar, the
 * manifest): the manifest's sizes, hashes and content digests are made to match again, so only
 * devx's own checks stand between the edit and this machine.
 */
export async function reseal(relayDir: string, passphrase: string, entries: CraftEntry[], edit: { manifest?(m: Record<string, any>): void; files?: Record<string, Buffer> }): Promise<string> {
  const files = new Map<string, Buffer>(entries.filter((e) => e.path !== "manifest.json").map((e) => [e.path, Buffer.from(e.body ?? "")]));
  for (const [k, v] of Object.entries(edit.files ?? {})) files.set(k, Buffer.from(v));
  const m = JSON.parse(String(entries.find((e) => e.path === "manifest.json")!.body)) as Record<string, any>;
  for (const c of m.containers) if (c.archive) Object.assign(c.archive, { size: files.get(c.archive.file)!.length, sha256: sha(files.get(c.archive.file)!) });
  for (const v of m.volumes) Object.assign(v, { size: files.get(v.file)!.length, sha256: sha(files.get(v.file)!), contentDigest: await tarContentDigest(Readable.from([files.get(v.file)!])) });
  edit.manifest?.(m);
  const order = [...m.containers.flatMap((c: any) => (c.archive ? [c.archive.file] : [])), ...m.volumes.map((v: any) => v.file)];
  return storeBundle(relayDir, passphrase, craftTar([{ path: "manifest.json", body: JSON.stringify(m) }, ...order.map((f: string) => ({ path: f, body: files.get(f)! }))]));
}

/** A podman checkpoint archive (zstd tar) with `edit` applied to its entries. */
export async function editCheckpoint(archive: Buffer, edit: (entries: CraftEntry[]) => CraftEntry[] | Promise<CraftEntry[]>): Promise<Buffer> {
  const { zstdCompressSync, zstdDecompressSync } = await import("node:zlib");
  const entries = await parseTar(zstdDecompressSync(archive));
  return zstdCompressSync(craftTar(await edit(entries)));
}

/** Edit one JSON file (config.dump, spec.dump) among a checkpoint's entries. */
export function editJson(entries: CraftEntry[], path: string, fn: (j: Record<string, any>) => void): CraftEntry[] {
  return entries.map((e) => {
    if (e.path !== path) return e;
    const j = JSON.parse(String(e.body)) as Record<string, any>;
    fn(j);
    return { ...e, body: JSON.stringify(j) };
  });
}
