import { fileURLToPath, pathToFileURL } from "node:url";
import { UsageError } from "../../src/errors.ts";

export type RelayUri =
  | { scheme: "s3" | "gs"; bucket: string; prefix: string; uri: string }
  | { scheme: "file"; dir: string; uri: string };

const HINT = "use s3://bucket/prefix, gs://bucket/prefix or file:///absolute/dir (state.relay in devx.yaml or --relay)";

/** Parse and canonicalise a relay URI (no trailing slash); UsageError when it is not one. */
export function parseRelayUri(text: string): RelayUri {
  const m = /^([a-z0-9]+):\/\/(.*)$/.exec(text);
  if (!m) throw new UsageError(`not a relay URI: '${text}'`, HINT);
  const [, scheme, rest] = m as unknown as [string, string, string];
  if (scheme === "file") {
    if (!rest.startsWith("/")) throw new UsageError(`a file relay needs an absolute path: '${text}'`, "write file:///absolute/dir (three slashes)");
    let dir: string;
    try {
      dir = fileURLToPath(text);
    } catch {
      throw new UsageError(`not a valid file URI: '${text}'`, HINT);
    }
    dir = dir.replace(/\/+$/, "") || "/";
    return { scheme, dir, uri: pathToFileURL(dir).href };
  }
  if (scheme === "s3" || scheme === "gs") {
    const [bucket = "", ...parts] = rest.split("/");
    // S3 and GCS bucket naming rules, lowest common denominator.
    if (!/^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new UsageError(`not a valid bucket name in '${text}'`, "bucket names are 3–63 characters: lowercase letters, digits, '.', '-' and '_'");
    }
    const prefix = parts.filter((p) => p.length > 0).join("/");
    if (/[\x00-\x1f\\]/.test(prefix)) throw new UsageError(`invalid characters in the prefix of '${text}'`, HINT);
    return { scheme, bucket, prefix, uri: `${scheme}://${bucket}${prefix ? `/${prefix}` : ""}` };
  }
  throw new UsageError(`unsupported relay scheme '${scheme}://'`, HINT);
}

/** The object key under a bucket prefix. */
export function objectKey(prefix: string, object: string): string {
  return prefix ? `${prefix}/${object}` : object;
}
