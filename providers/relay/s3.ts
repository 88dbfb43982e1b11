/**
 * S3 (and S3-compatible: MinIO, R2, GCS's XML API) relay on @aws-sdk/client-s3. Uploads stream as
 * multipart with bounded memory (parts of 5 MiB, 3 in flight) and abort the multipart upload on any
 * failure, so no half object and no orphaned parts are left behind. Downloads stream GetObject.
 * SDK errors are mapped to devx errors here and nowhere else.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type S3ClientConfig,
} from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { DevxError, IntegrityError, NetworkError, NotFoundError, PermissionError, ProviderError, TruncatedError, messageOf } from "../../src/errors.ts";
import { BucketNotFoundError, byteCounter, cancelled, checkObjectName, isAbort } from "./object-io.ts";
import { gcPace } from "../../src/platform/gc-pace.ts";
import type { Relay, RelayOptions } from "./types.ts";
import { objectKey } from "./uri.ts";

export interface S3RelayTuning {
  /**
   * first part size; grows ×2 every 2,000 parts so 10,000 parts reach ~300 GiB. Default 5 MiB (the
   * S3 minimum): each part exists about three times while in flight (our buffer and the HTTP
   * client's copies), so at 1 GB 8 MiB parts peaked devx at 176 MiB and 5 MiB ones at 144 MiB, with
   * the same upload time.
   */
  partSize?: number;
  /** parts uploaded at once (default 3) */
  concurrency?: number;
}

export interface S3Target {
  scheme: "s3" | "gs";
  bucket: string;
  prefix: string;
  uri: string;
}

const MiB = 1 << 20;
const MAX_PARTS = 10_000;
/** ranged re-requests after a dropped download connection */
const RESUME_ATTEMPTS = 3;

type Ctx = { what: string; object?: string; signal?: AbortSignal };

export function s3Relay(target: S3Target, opts: RelayOptions, extra: { credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }; tuning?: S3RelayTuning; credentialHint?: string } = {}): Relay {
  const { bucket, prefix, uri } = target;
  const partSize = extra.tuning?.partSize ?? 5 * MiB;
  const concurrency = extra.tuning?.concurrency ?? 3;
  const env = opts.env;
  const credentialHint =
    extra.credentialHint ?? "set AWS credentials (AWS_PROFILE, `aws sso login`, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) with s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket on the bucket";

  let client: S3Client | undefined;
  const s3 = (): S3Client => {
    if (client) return client;
    const config: S3ClientConfig = {
      region: opts.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? "us-east-1",
      endpoint: opts.endpoint,
      // S3-compatible stores (MinIO, s3rver, most on-prem) need path-style unless their DNS has
      // wildcard bucket names; AWS itself wants virtual-hosted style.
      forcePathStyle: opts.pathStyle ?? opts.endpoint !== undefined,
      followRegionRedirects: true,
      // s3rver stores streamed bodies corrupted with the default flexible checksums; S3 is fine either way.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      // a blackholed endpoint fails in 10 s instead of hanging; long transfers are not cut
      requestHandler: { connectionTimeout: 10_000 },
      maxAttempts: 3,
    };
    const fromEnv = env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN } : undefined;
    const credentials = extra.credentials ?? fromEnv;
    if (credentials) config.credentials = credentials;
    else if (env.AWS_PROFILE) config.profile = env.AWS_PROFILE;
    return (client = new S3Client(config));
  };

  const fail = (e: unknown, ctx: Ctx): DevxError => {
    if (e instanceof DevxError) return e;
    if (isAbort(e, ctx.signal)) return cancelled(ctx.what);
    const err = e as { name?: string; code?: string; Code?: string; $metadata?: { httpStatusCode?: number }; cause?: { code?: string } };
    const name = err.name ?? err.Code ?? "";
    const code = err.code ?? err.cause?.code ?? "";
    const status = err.$metadata?.httpStatusCode;
    const where = `${ctx.what} (${uri}${opts.endpoint ? ` via ${opts.endpoint}` : ""})`;
    if (name === "NoSuchBucket" || (ctx.what === "relay check" && status === 404)) {
      return new BucketNotFoundError(`${where}: bucket '${bucket}' does not exist`, "create the bucket, or fix state.relay / --relay");
    }
    if (name === "NoSuchKey" || name === "NotFound" || status === 404) {
      return new NotFoundError(`${where}: no object ${ctx.object ?? ""} on the relay`, "the share may have been removed, or the share ID is mistyped");
    }
    if (["AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "Forbidden", "CredentialsProviderError", "TokenProviderError"].includes(name) || status === 403 || status === 401) {
      return new PermissionError(`${where}: access denied (${name || status})`, credentialHint);
    }
    if (["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH", "ConnectionRefused", "FailedToOpenSocket"].includes(code) || ["TimeoutError", "NetworkingError", "ConnectionRefused", "FailedToOpenSocket"].includes(name)) {
      return new NetworkError(`${where}: relay unreachable (${code || name})`, "check the network and the relay endpoint (state.endpoint), then retry");
    }
    return new ProviderError(`${where} failed: ${name ? `${name}: ` : ""}${messageOf(e)}`, "check the relay configuration; run `devx doctor`");
  };

  const send = async <T>(cmd: { input: unknown }, ctx: Ctx): Promise<T> => {
    try {
      return (await s3().send(cmd as never, { abortSignal: ctx.signal })) as T;
    } catch (e) {
      throw fail(e, ctx);
    }
  };

  /**
   * Cuts the body into parts. Part buffers are recycled through `pool` once their upload is done:
   * at most concurrency + 2 exist at a time, and large uploads do not churn the collector.
   */
  async function* parts(body: Readable, pool: Buffer[]): AsyncGenerator<Buffer> {
    let index = 0;
    let size = partSize;
    const take = (): Buffer => {
      for (let b = pool.pop(); b; b = pool.pop()) if (b.length === size) return b;
      return Buffer.allocUnsafe(size);
    };
    let part = take();
    let filled = 0;
    for await (const chunk of body as AsyncIterable<Buffer | string>) {
      const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      let off = 0;
      while (off < buf.length) {
        const n = Math.min(size - filled, buf.length - off);
        buf.copy(part, filled, off, off + n);
        filled += n;
        off += n;
        if (filled === size) {
          yield part;
          index++;
          size = partSize * 2 ** Math.min(4, Math.floor(index / 2000));
          part = take();
          filled = 0;
        }
      }
    }
    if (filled > 0 || index === 0) yield part.subarray(0, filled);
  }

  return {
    uri,
    async put(object, body, opts = {}) {
      checkObjectName(object);
      const Key = objectKey(prefix, object);
      const ctx: Ctx = { what: `upload of ${object}`, object, signal: opts.signal };
      const pool: Buffer[] = [];
      const it = parts(body, pool);
      const first = await it.next();
      const second = first.done ? first : await it.next();
      if (second.done) {
        const buf = first.done ? Buffer.alloc(0) : first.value;
        await send(new PutObjectCommand({ Bucket: bucket, Key, Body: buf, ContentLength: buf.length, ContentType: "application/octet-stream" }), ctx);
        opts.onProgress?.(buf.length);
        return { bytes: buf.length };
      }
      const created = await send<{ UploadId?: string }>(new CreateMultipartUploadCommand({ Bucket: bucket, Key, ContentType: "application/octet-stream" }), ctx);
      const UploadId = created.UploadId!;
      const done: Array<{ PartNumber: number; ETag?: string }> = [];
      const inflight = new Set<Promise<void>>();
      let number = 0;
      let uploaded = 0;
      const launch = (buf: Buffer): void => {
        const PartNumber = ++number;
        if (PartNumber > MAX_PARTS) throw new ProviderError(`upload of ${object}: more than ${MAX_PARTS} parts`, "the bundle is too large for one object: share less data");
        const p = send<{ ETag?: string }>(new UploadPartCommand({ Bucket: bucket, Key, UploadId, PartNumber, Body: buf, ContentLength: buf.length }), ctx).then((r) => {
          done.push({ PartNumber, ETag: r.ETag });
          uploaded += buf.length;
          pool.push(buf);
          // each part's request copies its body (the SDK's HTTP path): let those copies be collected
          gcPace(buf.length);
          opts.onProgress?.(uploaded);
        });
        p.catch(() => {});
        const tracked = p.finally(() => inflight.delete(tracked));
        tracked.catch(() => {});
        inflight.add(tracked);
      };
      try {
        launch(first.value);
        launch(second.value);
        for await (const buf of it) {
          while (inflight.size >= concurrency) await Promise.race(inflight);
          launch(buf);
        }
        await Promise.all(inflight);
        done.sort((a, b) => a.PartNumber - b.PartNumber);
        await send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key, UploadId, MultipartUpload: { Parts: done } }), ctx);
        return { bytes: uploaded };
      } catch (e) {
        await Promise.allSettled(inflight);
        // Best effort: without the abort, S3 keeps (and bills) the uploaded parts.
        await s3()
          .send(new AbortMultipartUploadCommand({ Bucket: bucket, Key, UploadId }))
          .catch(() => {});
        throw fail(e, ctx);
      }
    },
    async get(object, opts = {}) {
      checkObjectName(object);
      const Key = objectKey(prefix, object);
      const ctx: Ctx = { what: `download of ${object}`, object, signal: opts.signal };
      type Got = { Body?: Readable; ContentLength?: number; ContentRange?: string; ETag?: string };
      const first = await send<Got>(new GetObjectCommand({ Bucket: bucket, Key }), ctx);
      const size = first.ContentLength;
      const etag = first.ETag;
      const interrupted = (e: unknown) => new TruncatedError(`${ctx.what} (${uri}) was interrupted: ${messageOf(e)}`, "the connection to the relay dropped: retry", { cause: e });

      // A dropped connection resumes where it stopped with a ranged GET pinned to the same ETag
      // (If-Match), so a multi-GB download survives a blip and never splices two versions.
      async function* resumable(): AsyncGenerator<Buffer> {
        let body = first.Body!;
        let received = 0;
        for (let attempt = 0; ; attempt++) {
          try {
            for await (const chunk of body as AsyncIterable<Buffer>) {
              received += chunk.length;
              yield chunk;
            }
            // Some HTTP stacks end the body quietly when the connection drops: the size tells.
            if (size === undefined || received >= size) return;
            throw new Error(`connection closed after ${received} of ${size} bytes`);
          } catch (e) {
            if (isAbort(e, ctx.signal)) throw cancelled(ctx.what);
            if (attempt >= RESUME_ATTEMPTS || size === undefined || !etag || received >= size) throw interrupted(e);
          }
          let next: Got;
          try {
            next = (await s3().send(new GetObjectCommand({ Bucket: bucket, Key, Range: `bytes=${received}-`, IfMatch: etag }), { abortSignal: ctx.signal })) as Got;
          } catch (e) {
            if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 412) {
              throw new IntegrityError(`${ctx.what} (${uri}): the object changed on the relay during the download`, "the share was replaced on the relay: attach again");
            }
            if (isAbort(e, ctx.signal)) throw cancelled(ctx.what);
            throw interrupted(e);
          }
          // A server that ignores Range would resend from byte 0: never append that.
          if (!next.ContentRange?.startsWith(`bytes ${received}-`)) {
            next.Body?.destroy();
            throw interrupted(new Error(`the relay did not resume at byte ${received}`));
          }
          body = next.Body!;
        }
      }
      const counter = byteCounter(opts.onProgress, size);
      const src = Readable.from(resumable(), { objectMode: false });
      src.on("error", (e) => counter.destroy(e instanceof DevxError ? e : fail(e, ctx)));
      return { body: src.pipe(counter), size };
    },
    async head(object) {
      checkObjectName(object);
      try {
        const r = await s3().send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey(prefix, object) }));
        return { size: r.ContentLength ?? 0 };
      } catch (e) {
        const m = fail(e, { what: `looking up ${object}`, object });
        if (m instanceof NotFoundError && !(m instanceof BucketNotFoundError)) return undefined;
        throw m;
      }
    },
    async delete(object) {
      checkObjectName(object);
      await send(new DeleteObjectCommand({ Bucket: bucket, Key: objectKey(prefix, object) }), { what: `removing ${object}`, object });
    },
    async list() {
      const out: Array<{ object: string; size: number; modified: Date }> = [];
      const Prefix = prefix ? `${prefix}/` : "";
      let ContinuationToken: string | undefined;
      do {
        const r = await send<{ Contents?: Array<{ Key?: string; Size?: number; LastModified?: Date }>; NextContinuationToken?: string; IsTruncated?: boolean }>(
          new ListObjectsV2Command({ Bucket: bucket, Prefix, Delimiter: "/", ContinuationToken }),
          { what: "listing" },
        );
        for (const o of r.Contents ?? []) {
          const name = (o.Key ?? "").slice(Prefix.length);
          if (!name || name.startsWith(".")) continue;
          out.push({ object: name, size: o.Size ?? 0, modified: o.LastModified ?? new Date(0) });
        }
        ContinuationToken = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (ContinuationToken);
      return out.sort((a, b) => a.object.localeCompare(b.object));
    },
    async check() {
      const ctx: Ctx = { what: "relay check" };
      await send(new HeadBucketCommand({ Bucket: bucket }), ctx);
      const Key = objectKey(prefix, `.devx-check-${randomBytes(6).toString("hex")}`);
      await send(new PutObjectCommand({ Bucket: bucket, Key, Body: Buffer.alloc(0), ContentLength: 0 }), { what: "relay write check" });
      await send(new DeleteObjectCommand({ Bucket: bucket, Key }), { what: "relay delete check" });
      return `${uri}: bucket reachable and writable${opts.endpoint ? ` (endpoint ${opts.endpoint})` : ""}`;
    },
  };
}
