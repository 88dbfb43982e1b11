#!/usr/bin/env bun
/**
 * Builds the bridge agent image from the compiled devx binary — offline, with podman, for one or
 * more architectures. Each image is scratch-like: /usr/local/bin/devx, the glibc loader and the four
 * libraries the Bun runtime links against (read from the binary's ELF headers), the CA bundle,
 * /etc/passwd with the non-root user 65532 the Job runs as, and /tmp. No shell, no package manager.
 *
 *   bun scripts/build-agent-image.ts                                   # host arch, dist/devx, localhost/devx-agent:<version>
 *   bun scripts/build-agent-image.ts --arch amd64,arm64 --push registry.example.com/team/devx-agent:<version>
 *
 * With several architectures the tag is a manifest list (`<tag>` → `<tag>-amd64`, `<tag>-arm64`), and
 * --push pushes all of it. A foreign architecture's binary is cross-compiled (`bun build --compile
 * --target=bun-linux-<x64|arm64>`) and its libraries come from Debian's multiarch directories:
 * `dpkg --add-architecture arm64 && apt-get update && apt-get install libc6:arm64` once. Then point
 * the team at it: `bridge: { agent_image: registry.example.com/team/devx-agent:<version> }` in devx.yaml
 * (docs/bridge.md).
 */
import { parseArgs } from "node:util";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { arch as hostArch, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import pkg from "../package.json" with { type: "json" };
import { build } from "./build.ts";

const root = resolve(import.meta.dir, "..");

/** Image architecture → Bun's compile target and Debian's multiarch triplet. */
export const ARCHES = {
  amd64: { target: "bun-linux-x64", triplet: "x86_64-linux-gnu", elf: "X86-64" },
  arm64: { target: "bun-linux-arm64", triplet: "aarch64-linux-gnu", elf: "AArch64" },
} as const;
export type Arch = keyof typeof ARCHES;
export const HOST_ARCH: Arch = hostArch() === "arm64" ? "arm64" : "amd64";

function run(argv: string[], stdin?: Uint8Array): string {
  const r = Bun.spawnSync(argv, { stdin: stdin ?? "ignore", stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.slice(0, 3).join(" ")} failed: ${r.stderr.toString().trim()}`);
  return r.stdout.toString();
}

/** The loader and the shared libraries an ELF binary asks for, as paths in the image and on this host. */
export function elfNeeds(binary: string, arch: Arch): string[] {
  const header = run(["readelf", "-h", binary]);
  if (!header.includes(ARCHES[arch].elf)) throw new Error(`${binary} is not a ${arch} binary`);
  const interp = /Requesting program interpreter: ([^\]]+)\]/.exec(run(["readelf", "-l", binary]))?.[1];
  const needed = [...run(["readelf", "-d", binary]).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]!);
  const dir = `/lib/${ARCHES[arch].triplet}`;
  const paths = [...(interp ? [interp] : []), ...needed.filter((n) => !interp?.endsWith(`/${n}`)).map((n) => `${dir}/${n}`)];
  for (const p of paths) {
    if (!existsSync(p)) throw new Error(`${p} (needed by the ${arch} binary) is missing; on Debian: dpkg --add-architecture ${arch} && apt-get update && apt-get install libc6:${arch}`);
  }
  return paths;
}

export interface BuiltImage {
  tag: string;
  arch: Arch;
  /** bytes of the image as stored (uncompressed layer) */
  size: number;
  /** bytes of its layer gzip-compressed, as a registry stores it and a node pulls it (when measured) */
  compressed?: number;
}

/** One single-arch image from a compiled binary. */
export function buildAgentImage(binary: string, tag: string, arch: Arch = HOST_ARCH, measure = false): BuiltImage {
  if (!existsSync(binary)) throw new Error(`${binary} does not exist; run \`bun run build\` first`);
  const fs = mkdtempSync(join(tmpdir(), "devx-agent-img-"));
  try {
    mkdirSync(join(fs, "usr/local/bin"), { recursive: true });
    copyFileSync(binary, join(fs, "usr/local/bin/devx"));
    chmodSync(join(fs, "usr/local/bin/devx"), 0o755);
    for (const lib of elfNeeds(binary, arch)) {
      mkdirSync(join(fs, dirname(lib)), { recursive: true });
      copyFileSync(lib, join(fs, lib));
    }
    mkdirSync(join(fs, "etc/ssl/certs"), { recursive: true });
    // the agent trusts its ServiceAccount's ca.crt for the API server; the bundle serves anything else it may reach
    if (existsSync("/etc/ssl/certs/ca-certificates.crt")) copyFileSync("/etc/ssl/certs/ca-certificates.crt", join(fs, "etc/ssl/certs/ca-certificates.crt"));
    writeFileSync(join(fs, "etc/passwd"), "root:x:0:0:root:/:/sbin/nologin\ndevx:x:65532:65532:devx agent:/tmp:/sbin/nologin\n");
    writeFileSync(join(fs, "etc/group"), "root:x:0:\ndevx:x:65532:\n");
    mkdirSync(join(fs, "tmp"), { recursive: true, mode: 0o1777 });
    const tar = Bun.spawnSync(["tar", "--owner=0", "--group=0", "--sort=name", "--mtime=@0", "-C", fs, "-c", "."], { stdout: "pipe" });
    if (tar.exitCode !== 0) throw new Error("tar of the image rootfs failed");
    run(
      ["podman", "import", "-q", "--arch", arch, "--change", 'ENTRYPOINT ["/usr/local/bin/devx"]', "--change", 'CMD ["bridge-agent"]', "--change", "USER 65532:65532", "--change", "ENV HOME=/tmp", "--change", "LABEL devx.kind=agent", "-", tag],
      tar.stdout,
    );
    const size = Number(run(["podman", "image", "inspect", tag, "--format", "{{.Size}}"]).trim());
    return { tag, arch, size, ...(measure ? { compressed: gzipSync(tar.stdout, { level: 6 }).length } : {}) };
  } finally {
    rmSync(fs, { recursive: true, force: true });
  }
}

/** The compiled binary for an architecture: dist/devx for the host (unless given), cross-compiled otherwise. */
export async function agentBinary(arch: Arch, hostBinary = join(root, "dist/devx")): Promise<string> {
  if (arch === HOST_ARCH) return hostBinary;
  const out = join(root, `dist/devx-linux-${arch}`);
  await build("src/bin.ts", out, ARCHES[arch].target);
  return out;
}

/** Images for every arch, and with more than one, a manifest list under `tag`. */
export async function buildAgentImages(arches: Arch[], tag: string, hostBinary?: string, measure = false): Promise<BuiltImage[]> {
  const multi = arches.length > 1;
  const images: BuiltImage[] = [];
  for (const a of arches) images.push(buildAgentImage(await agentBinary(a, hostBinary), multi ? `${tag}-${a}` : tag, a, measure));
  if (multi) {
    Bun.spawnSync(["podman", "manifest", "rm", tag], { stdout: "ignore", stderr: "ignore" });
    run(["podman", "manifest", "create", tag]);
    for (const img of images) run(["podman", "manifest", "add", tag, `containers-storage:${img.tag}`]);
  }
  return images;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      binary: { type: "string" },
      arch: { type: "string", default: HOST_ARCH },
      tag: { type: "string", default: `localhost/devx-agent:${pkg.version}` },
      push: { type: "string" },
    },
  });
  const arches = values.arch!.split(",").map((a) => a.trim()) as Arch[];
  for (const a of arches) if (!(a in ARCHES)) throw new Error(`unknown --arch ${a}; use ${Object.keys(ARCHES).join(",")}`);
  const tag = values.push ?? values.tag!;
  const t0 = performance.now();
  const images = await buildAgentImages(arches, tag, values.binary && resolve(values.binary), true);
  const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
  for (const i of images) console.error(`built ${i.tag} (${i.arch}): ${mb(i.size)}, ${mb(i.compressed ?? 0)} gzip-compressed`);
  console.error(`in ${Math.round(performance.now() - t0)} ms`);
  if (values.push) {
    run(arches.length > 1 ? ["podman", "manifest", "push", "--all", tag, `docker://${tag}`] : ["podman", "push", tag]);
    console.error(`pushed ${tag}; set bridge.agent_image: ${tag} in devx.yaml`);
  }
}
