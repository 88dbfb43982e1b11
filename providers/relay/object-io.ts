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

