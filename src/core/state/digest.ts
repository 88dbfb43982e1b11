import { createHash } from "node:crypto";
import { open } from "node:fs/promises";
import type { Readable } from "node:stream";
import { Parser, type ReadEntry } from "tar";
import { gcPace } from "../../platform/gc-pace.ts";
import { IntegrityError, ProviderError, messageOf } from "../../errors.ts";
import type { TarGuard } from "./guard/tar-rules.ts";

/**
 * SHA-256 and size of a file, read into one reused buffer: hashing is most of the bytes a share or
 * attach reads (every archive and volume tar once more), and a stream's fresh 1 MiB chunk per read
 * was garbage the collector then had to chase (see gcPace).
 */
export async function fileSha256(path: string): Promise<{ sha256: string; size: number }> {
  const h = createHash("sha256");
  const buf = Buffer.allocUnsafe(1 << 20);
  let size = 0;
  const fh = await open(path, "r");
  try {
    for (let n; (n = (await fh.read(buf, 0, buf.length, null)).bytesRead) > 0; ) {
      h.update(buf.subarray(0, n));
      size += n;
    }
  } finally {
    await fh.close();
  }
  return { sha256: h.digest("hex"), size };
}

/**
 * A digest of what a volume tar contains, not of how it was written: entries sorted by path, each
 * with type, mode, owner, link target and content SHA-256. Re-exporting a restored volume can
 * order entries differently, so this (not the tar's own hash) proves the content matches.
 */
export async function tarContentDigest(tar: Readable | AsyncIterable<Uint8Array>): Promise<string> {
  const d = contentDigester();
  for await (const chunk of tar as AsyncIterable<Uint8Array>) {
    gcPace(chunk.byteLength);
    await d.write(chunk);
  }
  return d.finish();
}

/**
 * tarContentDigest fed chunk by chunk, so a capture can digest a volume while it streams to disk.
 * With a `guard`, every entry header is checked too (a bundle's volume, before anything extracts
 * it): the first entry it refuses is what finish() throws.
 */
export function contentDigester(guard?: TarGuard): { write(chunk: Uint8Array): Promise<void>; finish(): Promise<string> } {
  const entries: string[] = [];
  const parser = new Parser({ strict: true });
  let failed = false;
  let refused: unknown;
  const done = new Promise<void>((resolve, reject) => {
    parser.on("end", () => resolve());
    parser.on("error", reject);
    parser.on("warn", (code: string, message: string) => reject(new Error(`${code}: ${message}`)));
  });
  // the failure surfaces in finish(); until then the rest of the stream is only drained
  done.catch(() => (failed = true));
  parser.on("entry", (e: ReadEntry) => {
    if (guard && refused === undefined) {
      try {
        guard.check({ path: e.path, type: e.type, mode: e.mode, size: e.size, linkpath: e.linkpath, devmaj: e.header?.devmaj, devmin: e.header?.devmin });
      } catch (err) {
        refused = err;
      }
    }
    if (refused !== undefined) {
      e.resume();
      return;
    }
    const h = createHash("sha256");
    e.on("data", (c: Buffer) => h.update(c));
    e.on("end", () => {
      const path = e.path.replace(/^\.\//, "").replace(/\/$/, "");
      if (path === "" || path === ".") return;
      entries.push(JSON.stringify([path, e.type, (e.mode ?? 0) & 0o7777, e.uid ?? 0, e.gid ?? 0, e.linkpath ?? "", e.type === "File" || e.type === "OldFile" ? h.digest("hex") : ""]));
    });
  });
  // an empty volume exports as end-of-archive blocks only, which the parser rejects as "not a tar"
  let onlyZeros = true;
  return {
    async write(chunk) {
      // a view, not Buffer.from(chunk): that copies every chunk that is a plain Uint8Array
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      if (onlyZeros && buf.some((b) => b !== 0)) onlyZeros = false;
      if (failed || refused !== undefined) return;
      // a parser that fails never drains
      if (!parser.write(buf)) await Promise.race([new Promise((r) => parser.once("drain", r)), done.catch(() => {})]);
    },
    async finish() {
      if (refused !== undefined) throw refused;
      parser.end();
      try {
        await done;
      } catch (e) {
        const empty = onlyZeros && entries.length === 0;
        if (!empty && guard) throw new IntegrityError(`${guard.what}: not a readable tar (${messageOf(e)})`, "the bundle is damaged: ask for a new share", { cause: e });
        if (!empty) throw new ProviderError(`a volume export is not a readable tar: ${messageOf(e)}`, "check the container runtime (`devx doctor`)");
      }
      if (refused !== undefined) throw refused;
      entries.sort();
      return createHash("sha256").update(entries.join("\n")).digest("hex");
    },
  };
}
