import { IntegrityError } from "../../../errors.ts";

/**
 * What a tar from a bundle may hold before anything extracts it on this host. Extractors that run
 * as root on the host (podman's `volume import`, the rootfs diff and /dev/shm content of a
 * checkpoint restore) follow symbolic links in parent directories: an archive holding `d -> /etc`
 * and then `d/x` writes /etc/x. So every entry is checked as it streams, against what the archive
 * itself created before it (and, for a rootfs diff, what the image already has):
 * - a relative path without `..` (the archive root itself is allowed);
 * - no parent that is a symbolic link, a file, or (for images) a symlink in the image;
 * - files, directories, symbolic links (relative targets must stay inside), FIFOs, and hard links
 *   to a regular file the archive already holds; never a device;
 * - setuid/setgid files are listed (the plan refuses them unless the user passes `--allow setuid`);
 * - bounded entry count and bytes.
 */
export interface TarRules {
  /** names the archive in messages: "volume app-data", "checkpoint web (rootfs-diff.tar)" */
  what: string;
  maxEntries: number;
  maxBytes: number;
  /** for an archive extracted over an existing tree: is `path` (relative) a symbolic link there? */
  symlinkInBase?(path: string): boolean;
  /** character devices this archive may hold at its top level: name → "major:minor" (a container's own /dev) */
  devices?: ReadonlyMap<string, string>;
}

/**
 * The character devices every container's /dev has anyway (the OCI runtime makes them). GNU-format
 * archives (CRIU's tmpfs dumps) carry device numbers the tar reader does not decode (they read as
 * 0:0): then the name decides, and the container's device cgroup — a bundle is never privileged
 * unless allowed — still denies anything but these.
 */
export const CONTAINER_DEVICES: ReadonlyMap<string, string> = new Map([
  ["null", "1:3"],
  ["zero", "1:5"],
  ["full", "1:7"],
  ["random", "1:8"],
  ["urandom", "1:9"],
  ["tty", "5:0"],
]);

export interface TarEntryHeader {
  path: string;
  type: string;
  mode?: number;
  size?: number;
  linkpath?: string;
  devmaj?: number;
  devmin?: number;
}

export type EntryKind = "dir" | "file" | "symlink" | "other";
type Kind = EntryKind;

const TAMPERED = "the bundle was built to write outside its place: do not use it, and tell whoever shared it";

/** Normalised relative form of an archive path; "" is the archive root. Throws on absolute paths and `..`. */
export function normalizeEntryPath(raw: string, what: string): string {
  if (raw.startsWith("/")) throw new IntegrityError(`${what}: entry '${raw}' has an absolute path`, TAMPERED);
  const parts = raw.split("/").filter((s) => s !== "" && s !== ".");
  if (parts.includes("..")) throw new IntegrityError(`${what}: entry '${raw}' climbs out with '..'`, TAMPERED);
  if (raw.includes("\0")) throw new IntegrityError(`${what}: entry '${raw}' holds a NUL byte`, TAMPERED);
  return parts.join("/");
}

/** The checker for one archive: feed it every entry header in order; it throws at the first bad one. */
export class TarGuard {
  /** setuid/setgid files (the first 20 paths) and how many there are */
  readonly setuid: string[] = [];
  setuidCount = 0;
  entries = 0;
  bytes = 0;
  private readonly kinds = new Map<string, Kind>();

  constructor(private readonly rules: TarRules) {}

  get what(): string {
    return this.rules.what;
  }

  /** what this archive has made at `path` so far */
  kindOf(path: string): EntryKind | undefined {
    return this.kinds.get(path);
  }

  check(h: TarEntryHeader): void {
    const { what } = this.rules;
    this.entries++;
    if (this.entries > this.rules.maxEntries) throw new IntegrityError(`${what}: more than ${this.rules.maxEntries} entries`, "the bundle is larger than devx accepts; ask for a smaller share");
    this.bytes += h.size ?? 0;
    if (this.bytes > this.rules.maxBytes) throw new IntegrityError(`${what}: more than ${this.rules.maxBytes} bytes of content`, "the bundle is larger than it declared; ask for a new share");
    const path = normalizeEntryPath(h.path, what);
    const kind = h.type === "CharacterDevice" && this.allowedDevice(h) ? "other" : kindOf(h.type);
    if (kind === undefined) throw new IntegrityError(`${what}: entry '${h.path}' is a ${describeType(h.type)}, which a bundle may not hold`, TAMPERED);
    if (path === "") {
      if (kind !== "dir") throw new IntegrityError(`${what}: the archive root is not a directory`, TAMPERED);
      return;
    }
    this.checkParents(path, h.path);
    const seen = this.kinds.get(path);
    if (seen !== undefined && !(seen === "dir" && kind === "dir")) throw new IntegrityError(`${what}: entry '${h.path}' appears twice`, TAMPERED);

    if (h.type === "SymbolicLink") this.checkSymlink(path, h);
    if (h.type === "Link") this.checkHardLink(h);
    if (kind === "file" && ((h.mode ?? 0) & 0o6000) !== 0) {
      this.setuidCount++;
      if (this.setuid.length < 20) this.setuid.push(path);
    }
    // a hard link is a file here: it may be linked again, and nothing may pass below it
    this.kinds.set(path, h.type === "SymbolicLink" ? "symlink" : kind);
  }

  private allowedDevice(h: TarEntryHeader): boolean {
    const name = normalizeEntryPath(h.path, this.rules.what);
    const want = this.rules.devices?.get(name);
    if (!want) return false;
    const got = `${h.devmaj ?? 0}:${h.devmin ?? 0}`;
    return got === "0:0" || got === want;
  }

  private checkParents(path: string, raw: string): void {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join("/");
      const k = this.kinds.get(parent);
      if (k === "symlink") throw new IntegrityError(`${this.rules.what}: entry '${raw}' passes through the symbolic link '${parent}'`, TAMPERED);
      if (k === "file" || k === "other") throw new IntegrityError(`${this.rules.what}: entry '${raw}' lies below the file '${parent}'`, TAMPERED);
      if (k === undefined && this.rules.symlinkInBase?.(parent)) throw new IntegrityError(`${this.rules.what}: entry '${raw}' passes through '${parent}', a symbolic link in the image`, TAMPERED);
    }
  }

  private checkSymlink(path: string, h: TarEntryHeader): void {
    const target = h.linkpath ?? "";
    if (target === "") throw new IntegrityError(`${this.rules.what}: symbolic link '${h.path}' has no target`, TAMPERED);
    // absolute targets are read inside the container; a relative one must not climb above the root
    // (extractors refuse it half-way through, leaving a torn volume)
    if (target.startsWith("/")) return;
    let depth = path.split("/").length - 1;
    for (const seg of target.split("/")) {
      if (seg === "" || seg === ".") continue;
      depth += seg === ".." ? -1 : 1;
      if (depth < 0) throw new IntegrityError(`${this.rules.what}: symbolic link '${h.path}' -> '${target}' points above the archive root`, TAMPERED);
    }
  }

  private checkHardLink(h: TarEntryHeader): void {
    const raw = h.linkpath ?? "";
    const target = normalizeEntryPath(raw, this.rules.what);
    // link() resolves parents of its target: only a regular file this archive made (whose own
    // parents were checked) cannot lead to a file of the host
    if (this.kinds.get(target) !== "file") throw new IntegrityError(`${this.rules.what}: hard link '${h.path}' -> '${raw}' does not name a regular file earlier in the archive`, TAMPERED);
  }
}

function kindOf(type: string): Kind | undefined {
  switch (type) {
    case "File":
    case "OldFile":
    case "ContiguousFile":
    // GNU sparse files (CRIU's tmpfs dumps use --sparse): a file whose body is stored compactly
    case "SparseFile":
    case "Link":
      return "file";
    case "Directory":
      return "dir";
    case "SymbolicLink":
      return "symlink";
    case "FIFO":
      return "other";
    default:
      return undefined;
  }
}

function describeType(type: string): string {
  if (type === "CharacterDevice" || type === "BlockDevice") return "device node";
  return `'${type}' entry`;
}
