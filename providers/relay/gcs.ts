/**
 * gs:// relays. With HMAC keys (GCS_HMAC_ACCESS_KEY_ID / GCS_HMAC_SECRET) the S3 relay talks to
 * GCS's S3-compatible XML API; without them the user's existing `gcloud` login streams objects
 * through `gcloud storage cp - URL` (upload from stdin) and `gcloud storage cat URL`.
 */
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { DevxError, NetworkError, NotFoundError, PermissionError, ProviderError, messageOf } from "../../src/errors.ts";
import type { Exec } from "../../src/platform/exec.ts";
import { BucketNotFoundError, byteCounter, cancelled, checkObjectName, isAbort } from "./object-io.ts";
import { s3Relay, type S3RelayTuning } from "./s3.ts";
import type { Relay, RelayOptions } from "./types.ts";
import { objectKey } from "./uri.ts";

export const GCS_XML_ENDPOINT = "https://storage.googleapis.com";

export function gcsRelay(target: { bucket: string; prefix: string; uri: string }, opts: RelayOptions, tuning?: S3RelayTuning): Relay {
  const accessKeyId = opts.env.GCS_HMAC_ACCESS_KEY_ID;
  const secretAccessKey = opts.env.GCS_HMAC_SECRET;
  if (accessKeyId && secretAccessKey) {
    return s3Relay(
      { scheme: "gs", ...target },
      { ...opts, endpoint: opts.endpoint ?? GCS_XML_ENDPOINT, region: opts.region ?? "auto", pathStyle: opts.pathStyle ?? true },
      { credentials: { accessKeyId, secretAccessKey }, tuning, credentialHint: "check GCS_HMAC_ACCESS_KEY_ID / GCS_HMAC_SECRET (an HMAC key of a service account with Storage Object Admin on the bucket), or unset them to use your gcloud login" },
    );
  }
  // gcloud is a helper that needs the user's Google credentials: they are passed by name (helpers inherit none)
  const env = Object.fromEntries(Object.entries(opts.env).filter(([k]) => /^(GOOGLE_|CLOUDSDK_|GCLOUD_)/.test(k)));
  return gcloudRelay(target, opts.exec, env);
}

const GCLOUD = "gcloud";

function gcloudRelay(target: { bucket: string; prefix: string; uri: string }, exec: Exec, env: Record<string, string | undefined>): Relay {
  const { bucket, prefix, uri } = target;
  const url = (object: string) => `gs://${bucket}/${objectKey(prefix, object)}`;

  const fail = (stderr: string, what: string, object?: string): DevxError => {
    const s = stderr.trim();
    const last = s.split("\n").filter(Boolean).pop() ?? "gcloud failed";
    // gcloud has no machine-readable error codes on stderr: its messages are all there is.
    if (/not (currently )?authenticated|no credentialed accounts|gcloud auth login|reauthentication/i.test(s)) {
      return new PermissionError(`${what} (${uri}): gcloud is not logged in`, "run `gcloud auth login`, or set GCS_HMAC_ACCESS_KEY_ID / GCS_HMAC_SECRET");
    }
    if (/\b403\b|AccessDenied|does not have storage\.|permission/i.test(s)) {
      return new PermissionError(`${what} (${uri}): access denied: ${last}`, "grant your account Storage Object Admin on the bucket, or use HMAC keys");
    }
    if (/bucket.*(does not exist|not found)|NoSuchBucket/i.test(s)) {
      return new BucketNotFoundError(`${what} (${uri}): bucket '${bucket}' does not exist`, "create the bucket, or fix state.relay / --relay");
    }
    if (/\b404\b|not found|matched no objects|No URLs matched/i.test(s)) {
      return new NotFoundError(`${what} (${uri}): no object ${object ?? ""} on the relay`, "the share may have been removed, or the share ID is mistyped");
    }
    if (/Unable to find the server|Name or service not known|Connection refused|timed out|network is unreachable/i.test(s)) {
      return new NetworkError(`${what} (${uri}): relay unreachable: ${last}`, "check the network, then retry");
    }
    return new ProviderError(`${what} (${uri}) failed: ${last}`, "run the same gcloud storage command by hand to see why");
  };

  const requireGcloud = () => {
    if (!exec.which(GCLOUD)) throw new ProviderError("gcloud is not installed or not on PATH", "install the Google Cloud CLI and run `gcloud auth login`, or set GCS_HMAC_ACCESS_KEY_ID / GCS_HMAC_SECRET");
  };

  const run = async (argv: string[], what: string, object?: string) => {
    requireGcloud();
    const r = await exec.run(argv, { env });
    if (r.code !== 0) throw fail(r.stderr, what, object);
    return r.stdout;
  };

  /** `gcloud storage ls -l` lines: "<size>  <RFC 3339 time>  gs://bucket/key" */
  const parseLs = (stdout: string) =>
    stdout
      .split("\n")
      .map((l) => /^\s*(\d+)\s+(\S+)\s+(gs:\/\/\S+)\s*$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => ({ size: Number(m[1]), modified: new Date(m[2]!), url: m[3]! }));

  const head = async (object: string) => {
    checkObjectName(object);
    try {
      const found = parseLs(await run([GCLOUD, "storage", "ls", "-l", url(object)], `looking up ${object}`, object)).find((e) => e.url === url(object));
      return found ? { size: found.size } : undefined;
    } catch (e) {
      if (e instanceof NotFoundError && !(e instanceof BucketNotFoundError)) return undefined;
      throw e;
    }
  };

  const upload = async (object: string, body: Readable, opts: { onProgress?(bytes: number): void; signal?: AbortSignal }) => {
      const what = `upload of ${object}`;
      requireGcloud();
      // GCS makes an object visible only when its upload is finalised, so a failed cp leaves nothing.
      const child = exec.spawn([GCLOUD, "storage", "cp", "-", url(object)], { env, stdin: "pipe", stdout: "ignore", stderr: "pipe" });
      const stderr = new Response(child.stderr).text();
      const onAbort = () => child.kill("SIGTERM");
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      let bytes = 0;
      // Errors of the body (the producer) pass through unchanged; only writing to gcloud is gcloud's.
      const feed = async (chunk: Buffer) => {
        try {
          child.stdin!.write(chunk);
          await child.stdin!.flush();
        } catch (e) {
          throw fail(`${await stderr}\n${messageOf(e)}`, what, object);
        }
      };
      try {
        for await (const chunk of body as AsyncIterable<Buffer>) {
          if (opts.signal?.aborted) throw cancelled(what);
          await feed(chunk);
          bytes += chunk.length;
          opts.onProgress?.(bytes);
        }
        await child.stdin!.end();
      } catch (e) {
        child.kill("SIGTERM");
        await child.exited;
        if (isAbort(e, opts.signal)) throw cancelled(what);
        throw e;
      } finally {
        opts.signal?.removeEventListener("abort", onAbort);
      }
      const code = await child.exited;
      if (opts.signal?.aborted) throw cancelled(what);
      if (code !== 0) throw fail(await stderr, what, object);
      return { bytes };
  };

  return {
    uri,
    async put(object, body, opts = {}) {
      checkObjectName(object);
      return upload(object, body, opts);
    },
    async get(object, opts = {}) {
      const found = await head(object);
      if (!found) throw new NotFoundError(`no object ${object} on ${uri}`, "the share may have been removed, or the share ID is mistyped");
      const what = `download of ${object}`;
      const child = exec.spawn([GCLOUD, "storage", "cat", url(object)], { env, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
      const stderr = new Response(child.stderr).text();
      const counter = byteCounter(opts.onProgress, found.size);
      const src = Readable.fromWeb(child.stdout as unknown as import("node:stream/web").ReadableStream<Uint8Array>);
      const onAbort = () => {
        child.kill("SIGTERM");
        counter.destroy(cancelled(what));
      };
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      src.on("error", (e) => counter.destroy(isAbort(e, opts.signal) ? cancelled(what) : fail(String(e), what, object)));
      // A failing gcloud may still close stdout cleanly: its exit code decides, before the counter ends.
      src.pipe(counter, { end: false });
      src.on("end", () => {
        void child.exited.then(async (code) => {
          opts.signal?.removeEventListener("abort", onAbort);
          if (code !== 0) counter.destroy(fail(await stderr, what, object));
          else counter.end();
        });
      });
      return { body: counter, size: found.size };
    },
    head,
    async delete(object) {
      checkObjectName(object);
      try {
        await run([GCLOUD, "storage", "rm", url(object)], `removing ${object}`, object);
      } catch (e) {
        if (e instanceof NotFoundError && !(e instanceof BucketNotFoundError)) return;
        throw e;
      }
    },
    async list() {
      const base = prefix ? `gs://${bucket}/${prefix}/` : `gs://${bucket}/`;
      let stdout: string;
      try {
        stdout = await run([GCLOUD, "storage", "ls", "-l", base], "listing");
      } catch (e) {
        if (e instanceof NotFoundError && !(e instanceof BucketNotFoundError)) return [];
        throw e;
      }
      return parseLs(stdout)
        .filter((e) => e.url.startsWith(base) && !e.url.slice(base.length).includes("/") && !e.url.slice(base.length).startsWith("."))
        .map((e) => ({ object: e.url.slice(base.length), size: e.size, modified: e.modified }))
        .sort((a, b) => a.object.localeCompare(b.object));
    },
    async check() {
      const probe = `.devx-check-${randomBytes(6).toString("hex")}`;
      await upload(probe, Readable.from([Buffer.alloc(0)]), {});
      await run([GCLOUD, "storage", "rm", url(probe)], "relay delete check", probe);
      return `${uri}: bucket reachable and writable through gcloud`;
    },
  };
}
