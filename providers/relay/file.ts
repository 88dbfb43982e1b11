/**
 * A directory as a relay (a shared mount, or the one-machine default). Objects are written to a
 * dot-prefixed temp name in the same directory, fsynced, then renamed: a reader never sees half an
 * object, and a crashed upload leaves only a temp file that list() ignores.
 */
import { createReadStream, createWriteStream, mkdirSync } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DevxError, NotFoundError, PermissionError, ProviderError, messageOf } from "../../src/errors.ts";
import { byteCounter, cancelled, checkObjectName, isAbort } from "./object-io.ts";
import type { Relay } from "./types.ts";

export function fileRelay(dir: string, uri: string): Relay {
  const fail = (e: unknown, what: string, signal?: AbortSignal): DevxError => {
    if (e instanceof DevxError) return e;
    if (isAbort(e, signal)) return cancelled(what);
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return new NotFoundError(`${what}: ${uri} has no such object or directory`, "check the relay path, or share again");
    if (code === "EACCES" || code === "EPERM" || code === "EROFS") return new PermissionError(`${what}: no permission on ${dir}`, "fix the directory's permissions or pick another relay");
    if (code === "ENOSPC" || code === "EDQUOT") return new ProviderError(`${what}: no space left in ${dir}`, "free some space on the relay's disk");
    return new ProviderError(`${what} on ${uri} failed: ${messageOf(e)}`, "check the relay directory");
  };

  return {
    uri,
    async put(object, body: Readable, opts = {}) {
      checkObjectName(object);
      const tmp = join(dir, `.${object}.${randomBytes(6).toString("hex")}.part`);
      let bytes = 0;
      try {
        // Synchronous on purpose: the body must be piped before this function first yields, or an
        // error it emits meanwhile would have no listener.
        mkdirSync(dir, { recursive: true });
        await pipeline(body, byteCounter((n) => opts.onProgress?.((bytes = n))), createWriteStream(tmp, { flags: "wx" }), { signal: opts.signal });
        const fh = await open(tmp, "r+");
        try {
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(tmp, join(dir, object));
        return { bytes };
      } catch (e) {
        await rm(tmp, { force: true });
        throw fail(e, `upload of ${object}`, opts.signal);
      }
    },
    async get(object, opts = {}) {
      checkObjectName(object);
      const path = join(dir, object);
      let size: number;
      try {
        size = (await stat(path)).size;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new NotFoundError(`no object ${object} on ${uri}`, "the share may have been removed, or the share ID is mistyped");
        throw fail(e, `download of ${object}`);
      }
      const counter = byteCounter(opts.onProgress, size);
      const src = createReadStream(path, { highWaterMark: 1 << 20, signal: opts.signal });
      src.on("error", (e) => counter.destroy(fail(e, `download of ${object}`, opts.signal)));
      return { body: src.pipe(counter), size };
    },
    async head(object) {
      checkObjectName(object);
      try {
        const s = await stat(join(dir, object));
        return s.isFile() ? { size: s.size } : undefined;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw fail(e, `looking up ${object}`);
      }
    },
    async delete(object) {
      checkObjectName(object);
      try {
        await rm(join(dir, object), { force: true });
      } catch (e) {
        throw fail(e, `removing ${object}`);
      }
    },
    async list() {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
        throw fail(e, "listing");
      }
      const out: Array<{ object: string; size: number; modified: Date }> = [];
      for (const name of names) {
        if (name.startsWith(".")) continue;
        const s = await stat(join(dir, name)).catch(() => undefined);
        if (s?.isFile()) out.push({ object: name, size: s.size, modified: s.mtime });
      }
      return out.sort((a, b) => a.object.localeCompare(b.object));
    },
    async check() {
      const probe = join(dir, `.devx-check-${randomBytes(6).toString("hex")}`);
      try {
        await mkdir(dir, { recursive: true });
        const fh = await open(probe, "wx");
        await fh.close();
        await rm(probe, { force: true });
      } catch (e) {
        throw fail(e, "relay check");
      }
      return `${uri}: directory is writable`;
    },
  };
}
