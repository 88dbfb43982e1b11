/** Relay helpers shared by push, pull and gc. */
import { Readable, type Transform } from "node:stream";
import { CancelledError, IntegrityError, NotFoundError } from "../../../errors.ts";
import type { Relay } from "../../../../providers/relay/types.ts";
import { MAX_MANIFEST_BYTES, badObject, manifestName, pointerName, manifestSeq, unseal, validateManifest, type Limits, type Manifest, type WorkspaceKey } from "./format.ts";

/** A stream of exactly one buffer (also for an empty one). */
export function bufferStream(buf: Buffer): Readable {
  let sent = false;
  return new Readable({
    read() {
      if (!sent && buf.length > 0) this.push(buf);
      sent = true;
      this.push(null);
    },
  });
}

/** Read a whole object, refusing one larger than `max` bytes. */
export async function readObject(relay: Relay, object: string, max: number, signal?: AbortSignal): Promise<Buffer> {
  const { body, size } = await relay.get(object, { signal });
  if (size !== undefined && size > max) {
    body.destroy();
    throw badObject(object, `${size} bytes, more than the ${max} allowed`);
  }
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > max) {
      body.destroy();
      throw badObject(object, `more than the ${max} bytes allowed`);
    }
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

export type Listing = Map<string, number>;

export async function listing(relay: Relay): Promise<Listing> {
  return new Map((await relay.list()).map((o) => [o.object, o.size]));
}

/** Manifest seqs of `prefix` in the listing, ascending. */
export function manifestSeqs(prefix: string, list: Listing): number[] {
  const seqs: number[] = [];
  for (const name of list.keys()) {
    const s = manifestSeq(prefix, name);
    if (s !== undefined) seqs.push(s);
  }
  return seqs.sort((a, b) => a - b);
}

export async function loadManifest(relay: Relay, prefix: string, seq: number, key: WorkspaceKey | undefined, limits?: Limits, signal?: AbortSignal): Promise<Manifest> {
  const object = manifestName(prefix, seq);
  const raw = await readObject(relay, object, MAX_MANIFEST_BYTES, signal);
  let plain: Buffer;
  if (key) plain = unseal(key, object, raw);
  else if (raw.subarray(0, 4).toString() === "DXW1") throw new IntegrityError(`workspace manifest ${seq} is encrypted`, "pass the workspace key");
  else plain = raw;
  let parsed: unknown;
  try {
    parsed = JSON.parse(plain.toString("utf8"));
  } catch {
    throw badObject(object, "not valid JSON");
  }
  const m = validateManifest(parsed, seq, limits);
  if (m.encrypted !== (key !== undefined)) throw badObject(object, m.encrypted ? "says it is encrypted but was read in clear" : "is in clear but a key was given");
  return m;
}

export function noManifest(prefix: string, relay: Relay): NotFoundError {
  return new NotFoundError(`no workspace manifest for '${prefix}' on ${relay.uri}`, "push the workspace first (or check the prefix and relay)");
}

/**
 * Run `fn` over `items`, `concurrency` at a time. The first failure stops new work, waits for the
 * running ones and is rethrown.
 */
export async function pool<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>, signal?: AbortSignal): Promise<void> {
  let next = 0;
  let failed: { e: unknown } | undefined;
  const worker = async () => {
    while (!failed && next < items.length) {
      if (signal?.aborted) {
        failed ??= { e: new CancelledError("workspace transfer cancelled", "run it again when ready") };
        break;
      }
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (e) {
        failed ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  if (failed) throw failed.e;
}

/** a.pipe(b), with a's errors carried to b (pipe alone drops them). */
export function chain(a: Readable, b: Transform): Transform {
  a.on("error", (e) => b.destroy(e));
  b.on("close", () => a.destroy());
  return a.pipe(b);
}

/**
 * The latest manifest seq of `prefix`. The pointer object (written after each commit) is a hint:
 * manifest <pointer> must exist, and newer ones are probed with HEAD until one is missing (seqs are
 * contiguous from the newest down), so a stale pointer is caught up and a forged or dangling one
 * falls back to listing the relay. A listing, when one was made, is returned with the seq.
 */
export async function locateLatest(relay: Relay, prefix: string, signal?: AbortSignal): Promise<{ seq: number; list?: Listing }> {
  let hint: number | undefined;
  try {
    const raw = JSON.parse((await readObject(relay, pointerName(prefix), 256, signal)).toString("utf8")) as { seq?: unknown };
    if (typeof raw.seq === "number" && Number.isSafeInteger(raw.seq) && raw.seq > 0) hint = raw.seq;
  } catch (e) {
    if (!(e instanceof NotFoundError || e instanceof IntegrityError || e instanceof SyntaxError)) throw e;
  }
  if (hint !== undefined && (await relay.head(manifestName(prefix, hint))) !== undefined) {
    let seq = hint;
    while ((await relay.head(manifestName(prefix, seq + 1))) !== undefined) seq++;
    return { seq };
  }
  const list = await listing(relay);
  return { seq: manifestSeqs(prefix, list).at(-1) ?? 0, list };
}
