/**
 * openRelay: a relay URI (state.relay / --relay / a share ID) to a Relay. Construction is cheap and
 * does no I/O; SDK clients are built on first use.
 */
import { fileRelay } from "./file.ts";
import { gcsRelay } from "./gcs.ts";
import { s3Relay, type S3RelayTuning } from "./s3.ts";
import type { Relay, RelayOptions } from "./types.ts";
import { parseRelayUri } from "./uri.ts";

export type { Relay, RelayOptions } from "./types.ts";
export { parseRelayUri } from "./uri.ts";

/** Open the relay at `uri`; UsageError for a URI that is not one. `tuning` is for tests and benchmarks. */
export function openRelay(uri: string, opts: RelayOptions, tuning?: S3RelayTuning): Relay {
  const u = parseRelayUri(uri);
  switch (u.scheme) {
    case "file":
      return fileRelay(u.dir, u.uri);
    case "s3":
      return s3Relay(u, opts, { tuning });
    case "gs":
      return gcsRelay(u, opts, tuning);
  }
}
