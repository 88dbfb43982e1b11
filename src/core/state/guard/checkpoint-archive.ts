import { createReadStream } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createGunzip, createZstdDecompress } from "node:zlib";
import { create as tarCreate, Parser, Unpack, type ReadEntry } from "tar";
import { IntegrityError, messageOf } from "../../../errors.ts";
import { contentDigester } from "../digest.ts";
import { CONTAINER_DEVICES, normalizeEntryPath, TarGuard } from "./tar-rules.ts";
import { readCheckpointSettings, rewriteConfig, rewriteSpec, type CheckpointSettings, type Rewrite } from "./checkpoint-settings.ts";

/**
 * A checkpoint archive from a bundle (podman's `checkpoint --export`, zstd) is inspected whole
 * before podman sees it: every entry of the archive and of the tars inside it (the rootfs diff,
 * /dev/shm, CRIU's tmpfs dumps) passes the same rules as a volume, the files podman deletes on
 * restore stay inside the container, and config.dump/spec.dump are read for what the container
 * would be allowed to do. podman is then given a copy that devx rewrote (see checkpoint-settings).
 */

const MAX_JSON = 8 << 20;
const MAX_ENTRIES = 200_000;
const MAX_BYTES = 64 * 2 ** 30;
const TOP_FILES = new Set(["config.dump", "spec.dump", "network.status", "stats-dump", "ctr.log", "rootfs-diff.tar", "deleted.files", "devshm-checkpoint.tar", "bind.mounts", "dump.log", "restore.log"]);
const TOP_DIRS = new Set(["checkpoint", "artifacts"]);
const TAMPERED = "the bundle was built to write outside its place: do not use it, and tell whoever shared it";

export interface CheckpointFindings extends CheckpointSettings {
  /** setuid/setgid files in the container's filesystem changes */
  setuid: string[];
  setuidCount: number;
}

export interface InspectContext {
  /** the container's name in the manifest */
  subject: string;
  /** is this relative path a symbolic link in the image the container is restored onto? */
  symlinkInImage?(path: string): boolean;
}

export async function inspectCheckpointArchive(file: string, ctx: InspectContext): Promise<CheckpointFindings> {
  const what = `checkpoint of ${ctx.subject}`;
  const outer = new TarGuard({ what, maxEntries: MAX_ENTRIES, maxBytes: MAX_BYTES });
  const rootfs = new TarGuard({ what: `${what} (rootfs-diff.tar)`, maxEntries: MAX_ENTRIES * 10, maxBytes: MAX_BYTES, symlinkInBase: ctx.symlinkInImage });
  const json: Record<string, string> = {};
  const nested: Array<Promise<unknown>> = [];
  const parser = new Parser({ strict: true });
  let refused: unknown;

  parser.on("entry", (e: ReadEntry) => {
    const fail = (err: unknown) => {
      refused ??= err;
      e.resume();
    };
    if (refused !== undefined) return e.resume();
    try {
      outer.check({ path: e.path, type: e.type, mode: e.mode, size: e.size, linkpath: e.linkpath });
      const path = normalizeEntryPath(e.path, what);
      const top = path.split("/")[0]!;
      if (e.type === "SymbolicLink" || e.type === "Link") throw new IntegrityError(`${what}: entry '${e.path}' is a link`, TAMPERED);
      if (path !== "" && !(TOP_FILES.has(path) || TOP_DIRS.has(top))) throw new IntegrityError(`${what}: unexpected entry '${e.path}'`, TAMPERED);
      if (e.type === "Directory") return e.resume();
      if (path === "config.dump" || path === "spec.dump" || path === "deleted.files") {
        if ((e.size ?? 0) > MAX_JSON) throw new IntegrityError(`${what}: ${path} is larger than ${MAX_JSON} bytes`, TAMPERED);
        const chunks: Buffer[] = [];
        e.on("data", (c: Buffer) => chunks.push(c));
        e.on("end", () => (json[path] = Buffer.concat(chunks).toString("utf8")));
        return;
      }
      // CRIU's dump of a tmpfs the container mounted (its /dev among them) holds that /dev's standard nodes
      const tmpfs = /^checkpoint\/[^/]+\.tar\.gz\.img$/.test(path);
      const guard = path === "rootfs-diff.tar" ? rootfs : path === "devshm-checkpoint.tar" || tmpfs ? new TarGuard({ what: `${what} (${path})`, maxEntries: MAX_ENTRIES, maxBytes: MAX_BYTES, devices: tmpfs ? CONTAINER_DEVICES : undefined }) : undefined;
      if (!guard) return e.resume();
      const d = contentDigester(guard);
      const source = path.endsWith(".gz.img") ? e.pipe(createGunzip()) : e;
      nested.push(
        (async () => {
          for await (const c of source as AsyncIterable<Buffer>) await d.write(c);
          await d.finish();
        })().catch(fail),
      );
    } catch (err) {
      fail(err);
    }
  });

  try {
    await pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), createZstdDecompress(), parser);
  } catch (e) {
    throw refused ?? new IntegrityError(`${what}: not a readable checkpoint archive (${messageOf(e)})`, "the bundle is damaged: ask for a new share", { cause: e });
  }
  await Promise.all(nested);
  if (refused !== undefined) throw refused;
  for (const k of ["config.dump", "spec.dump"]) if (json[k] === undefined) throw new IntegrityError(`${what}: ${k} is missing`, "the bundle is damaged: ask for a new share");
  const settings = readCheckpointSettings(ctx.subject, parse(json["config.dump"]!, what), parse(json["spec.dump"]!, what));
  if (json["deleted.files"] !== undefined) checkDeleted(parse(json["deleted.files"], what), what, rootfs, ctx.symlinkInImage);
  return { ...settings, setuid: rootfs.setuid, setuidCount: rootfs.setuidCount };
}

function parse(text: string, what: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new IntegrityError(`${what}: a settings file is not valid JSON`, "the bundle is damaged: ask for a new share");
  }
}

/**
 * podman removes each listed path from the container's root after applying the rootfs diff, on
 * the host, following parent symlinks: each must be a plain relative path whose parents are no
 * symlink of the image or of the diff.
 */
function checkDeleted(list: unknown, what: string, rootfs: TarGuard, symlinkInImage?: (p: string) => boolean): void {
  if (!Array.isArray(list)) throw new IntegrityError(`${what}: deleted.files is not a list`, TAMPERED);
  for (const raw of list) {
    if (typeof raw !== "string") throw new IntegrityError(`${what}: deleted.files holds a non-path`, TAMPERED);
    const path = normalizeEntryPath(raw.replace(/^\/+/, ""), `${what} (deleted.files)`);
    if (path === "") throw new IntegrityError(`${what}: deleted.files would remove the container's whole root`, TAMPERED);
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join("/");
      if (rootfs.kindOf(parent) === "symlink" || (rootfs.kindOf(parent) === undefined && symlinkInImage?.(parent))) throw new IntegrityError(`${what}: deleted.files names '${raw}', below the symbolic link '${parent}'`, TAMPERED);
    }
  }
}

/**
 * Write the archive podman restores: the inspected one unpacked into `work`, its config.dump and
 * spec.dump rewritten (see checkpoint-settings), packed again as a plain tar at `out`.
 */
export async function writeRestorableArchive(file: string, work: string, out: string, w: Rewrite): Promise<void> {
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true, mode: 0o700 });
  try {
    await pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), createZstdDecompress(), new Unpack({ cwd: work, strict: true }));
    const config = JSON.parse(await readFile(join(work, "config.dump"), "utf8")) as Record<string, unknown>;
    const spec = JSON.parse(await readFile(join(work, "spec.dump"), "utf8")) as Record<string, unknown>;
    await writeFile(join(work, "config.dump"), JSON.stringify(rewriteConfig(config, w)), { mode: 0o600 });
    await writeFile(join(work, "spec.dump"), JSON.stringify(rewriteSpec(spec, config, w)), { mode: 0o600 });
    await tarCreate({ cwd: work, file: out, portable: false }, await readdir(work));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
