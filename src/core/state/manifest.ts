import * as v from "valibot";
import { IntegrityError } from "../../errors.ts";

/**
 * The manifest of a snapshot directory and of a bundle (its first tar entry). One format for local
 * checkpoints, restore points, db snapshots and shared bundles, so every path restores the same way.
 */
export const MANIFEST_VERSION = 1;
export const MANIFEST_FILE = "manifest.json";

const safeName = v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/, "expected a container or volume name"));
const relFile = v.pipe(v.string(), v.regex(/^(containers|volumes)\/[A-Za-z0-9][A-Za-z0-9_.-]{0,254}\.(tar|tar\.zst)$/, "expected containers/<name>.tar.zst or volumes/<name>.tar"));
const labels = v.pipe(
  v.record(v.pipe(v.string(), v.maxLength(253)), v.pipe(v.string(), v.maxLength(4096))),
  v.check((r) => Object.keys(r).length <= 128, "too many labels"),
);
const text = v.pipe(v.string(), v.maxLength(4096));
/** A bundle is read before anything else is trusted: its manifest is bounded in every direction. */
export const MAX_CONTAINERS = 256;
export const MAX_VOLUMES = 1024;
const size = v.pipe(v.number(), v.integer(), v.minValue(0));
const sha256 = v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/, "expected a SHA-256 hex digest"));

export const containerEntry = v.object({
  name: safeName,
  image: text,
  labels,
  ports: v.pipe(v.array(v.object({ hostIp: text, hostPort: v.number(), containerPort: v.number(), protocol: text })), v.maxLength(1024)),
  volumes: v.pipe(v.array(v.object({ name: safeName, destination: text })), v.maxLength(1024)),
  /** the CRIU archive; absent when the container is recorded only to be stopped and started again */
  archive: v.optional(v.object({ file: relFile, size: size, sha256 })),
});

export const volumeEntry = v.object({
  name: safeName,
  labels,
  file: relFile,
  /** bytes of the volume tar */
  size: size,
  /** SHA-256 of the volume tar as stored */
  sha256,
  /** SHA-256 over the sorted entries (path, type, mode, owner, content hash): independent of tar order and mtimes */
  contentDigest: sha256,
});

export const manifestSchema = v.object({
  formatVersion: v.literal(MANIFEST_VERSION),
  kind: v.picklist(["checkpoint", "share", "restore-point", "db-snapshot"]),
  name: text,
  created: text,
  mode: v.picklist(["full", "db-only"]),
  host: v.object({ os: text, arch: text }),
  runtime: v.object({ name: text, version: text }),
  criu: v.optional(text),
  project: v.optional(text),
  configSha256: v.optional(sha256),
  containers: v.pipe(v.array(containerEntry), v.maxLength(MAX_CONTAINERS)),
  volumes: v.pipe(v.array(volumeEntry), v.maxLength(MAX_VOLUMES)),
});

export type Manifest = v.InferOutput<typeof manifestSchema>;
export type ContainerEntry = v.InferOutput<typeof containerEntry>;
export type VolumeEntry = v.InferOutput<typeof volumeEntry>;
export type Mode = Manifest["mode"];

/** Parse and validate manifest JSON; IntegrityError when it is not a manifest devx can apply. */
export function parseManifest(text: string, where: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new IntegrityError(`${where}: the manifest is not valid JSON`, "the snapshot is damaged: take or share it again");
  }
  const version = (raw as { formatVersion?: unknown })?.formatVersion;
  if (typeof version === "number" && version > MANIFEST_VERSION) {
    throw new IntegrityError(`${where}: manifest format ${version} is newer than this devx understands (${MANIFEST_VERSION})`, "upgrade devx (`devx upgrade` or reinstall), then try again");
  }
  const r = v.safeParse(manifestSchema, raw);
  if (!r.success) {
    const issue = r.issues[0];
    const path = issue.path?.map((p) => String(p.key)).join(".") ?? "";
    throw new IntegrityError(`${where}: invalid manifest${path ? ` at ${path}` : ""}: ${issue.message}`, "the snapshot is damaged or from an incompatible devx: take or share it again");
  }
  const files = [...r.output.containers.flatMap((c) => (c.archive ? [c.archive.file] : [])), ...r.output.volumes.map((x) => x.file)];
  if (new Set(files).size !== files.length) throw new IntegrityError(`${where}: the manifest lists a file twice`, "the snapshot is damaged: take or share it again");
  return r.output;
}
