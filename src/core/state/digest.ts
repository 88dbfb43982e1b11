import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { Parser, type ReadEntry } from "tar";
import { gcPace } from "../../../providers/relay/common.ts";
import { ProviderError, messageOf } from "../../errors.ts";

/** SHA-256 and size of a file, streamed. */
export async function fileSha256(path: string): Promise<{ sha256: string; size: number }> {
  const h = createHash("sha256");
  let size = 0;
  for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) {
    h.update(c as Buffer);
    gcPace((c as Buffer).length);
    size += (c as Buffer).length;
  }
  return { sha256: h.digest("hex"), size };
}

/**
 * A digest of what a volume tar contains, not of how it was written: entries sorted by path, each
 * with type, mode, owner, link target and content SHA-256. Re-exporting a restored volume can
 * order entries differently, so this (not the tar's own hash) proves the content matches.
 */
export async function tarContentDigest(tar: Readable | AsyncIterable<Uint8Array>): Promise<string> {
  const entries: string[] = [];
  const parser = new Parser({ strict: true });
  const done = new Promise<void>((resolve, reject) => {
    parser.on("end", () => resolve());
    parser.on("error", reject);
    parser.on("warn", (code: string, message: string) => reject(new Error(`${code}: ${message}`)));
  });
  parser.on("entry", (e: ReadEntry) => {
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
  for await (const chunk of tar as AsyncIterable<Uint8Array>) {
    // a view, not Buffer.from(chunk): that copies every chunk that is a plain Uint8Array
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    gcPace(buf.length);
    if (onlyZeros && buf.some((b) => b !== 0)) onlyZeros = false;
    if (!parser.write(buf)) await new Promise((r) => parser.once("drain", r));
  }
  parser.end();
  try {
    await done;
  } catch (e) {
    if (!(onlyZeros && entries.length === 0)) throw new ProviderError(`a volume export is not a readable tar: ${messageOf(e)}`, "check the container runtime (`devx doctor`)");
  }
  entries.sort();
  return createHash("sha256").update(entries.join("\n")).digest("hex");
}
