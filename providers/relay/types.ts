import type { Readable } from "node:stream";
import type { Exec } from "../../src/platform/exec.ts";

/**
 * A relay stores opaque objects (always ciphertext) in a place the team already owns: an S3 bucket,
 * a GCS bucket or a shared directory. Object names are random; the relay never sees content.
 */
export interface Relay {
  /** canonical URI without credentials: "s3://bucket/prefix", "gs://bucket/prefix", "file:///dir" */
  readonly uri: string;
  /**
   * Stream `body` into `object`; the object becomes visible only once complete, and a failed or
   * cancelled upload leaves nothing behind. On failure `body` may be left unconsumed: the caller
   * destroys it so whatever produces it stops too.
   */
  put(object: string, body: Readable, opts?: { onProgress?(bytes: number): void; signal?: AbortSignal }): Promise<{ bytes: number }>;
  /** Stream `object` out; NotFoundError when it does not exist. */
  get(object: string, opts?: { onProgress?(bytes: number, total?: number): void; signal?: AbortSignal }): Promise<{ body: Readable; size?: number }>;
  /** Size of `object`, or undefined when it does not exist. */
  head(object: string): Promise<{ size: number } | undefined>;
  /** Remove `object`; succeeds when it is already gone. */
  delete(object: string): Promise<void>;
  list(): Promise<Array<{ object: string; size: number; modified: Date }>>;
  /** Is the relay reachable and writable? Returns a one-line detail; throws typed errors. */
  check(): Promise<string>;
}

export interface RelayOptions {
  /** S3-compatible endpoint (MinIO, R2, a test server); for gs:// overrides the GCS XML API endpoint */
  endpoint?: string;
  region?: string;
  /** path-style addressing (http://host/bucket/key); defaults to true when `endpoint` is set, false for AWS */
  pathStyle?: boolean;
  env: Record<string, string | undefined>;
  exec: Exec;
}
