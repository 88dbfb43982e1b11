import { Transform, type TransformCallback } from "node:stream";
import { CancelledError, NotFoundError, TruncatedError, UsageError } from "../../src/errors.ts";

/**
 * Object names stay inside the relay: no separators, no leading dot (temp and probe files use
 * one), nothing a path or URL would interpret.
 */
export function checkObjectName(object: string): void {
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}$/.test(object)) {
    throw new UsageError(`invalid relay object name '${object}'`, "object names are letters, digits, '.', '_' and '-', not starting with '.'");
  }
}

/**
 * Counts bytes flowing through and reports them. With `expected`, a stream that ends short is a
 * TruncatedError (an interrupted download), one that runs long an error too.
 */
export function byteCounter(onProgress?: (bytes: number, total?: number) => void, expected?: number): Transform {
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      bytes += chunk.length;
      onProgress?.(bytes, expected);
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      if (expected !== undefined && bytes !== expected) {
        return cb(new TruncatedError(`the download ended after ${bytes} of ${expected} bytes`, "the connection to the relay was interrupted: retry"));
      }
      cb();
    },
  });
}

export function isAbort(e: unknown, signal?: AbortSignal): boolean {
  return (signal?.aborted ?? false) || (e as Error | undefined)?.name === "AbortError";
}

export function cancelled(what: string): CancelledError {
  return new CancelledError(`${what} cancelled`, "run the command again when ready");
}

/** The relay's bucket (not just an object) is missing: head/delete/list must not treat it as "no object". */
export class BucketNotFoundError extends NotFoundError {}

/**
 * Streamed transfers allocate a fresh buffer per chunk (file reads, zlib and cipher output, the
 * HTTP client's copies of each part). JSC frees dead ArrayBuffers only when a collection runs, and
 * for a heap this small that comes late: a 1 GB share or attach grew devx by 100–250 MB of dead
 * chunks (bench/state-share.ts). A full collection costs 13–18 ms in the compiled binary, so one
 * every 32 MiB cost an attach 4 s per GB; instead every stream reports its bytes here and, every
 * few MiB, the process's RSS is checked (~12 µs): only above the budget is there a collection.
 * What survives one (live buffers, pages the allocator keeps) raises the bar for the next, so a
 * process that is simply bigger does not collect in a loop.
 */
const PACE_CHECK = 4 << 20;
const RSS_BUDGET = 100 << 20;
/** growth over what survived the last collection before the next one */
const RSS_SLACK = 16 << 20;
let paceBytes = 0;
let collectAbove = RSS_BUDGET;

export function gcPace(bytes: number): void {
  paceBytes += bytes;
  if (paceBytes < PACE_CHECK) return;
  paceBytes = 0;
  if (process.memoryUsage.rss() < collectAbove) return;
  (globalThis as { Bun?: { gc(sync: boolean): void } }).Bun?.gc(true);
  collectAbove = Math.max(RSS_BUDGET, process.memoryUsage.rss() + RSS_SLACK);
}
