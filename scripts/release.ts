#!/usr/bin/env bun
/**
 * Builds a release folder that install.sh can install from:
 *   <out>/v<version>/devx-<os>-<arch>.tar.gz (one file, devx, mode 0755), checksums.txt, install.sh
 *   and the same under <out>/latest/
 *
 *   bun scripts/release.ts                 # this machine's target only, into ./release of the repo
 *   bun scripts/release.ts --all           # linux/darwin × x64/arm64 (cross-compiles)
 *   bun scripts/release.ts --out dir       # a relative dir is taken from where you run it
 *
 * Prints each archive's raw and compressed size: the figures the release notes quote.
 */
import { parseArgs } from "node:util";
import { chmod, cp, mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createHash } from "node:crypto";
import { create as tarCreate } from "tar";
import { build } from "./build.ts";
import { VERSION } from "../src/version.ts";
import { formatBytes } from "../src/events/format.ts";

const root = resolve(import.meta.dir, "..");
const host = `${process.platform}-${process.arch === "arm64" ? "arm64" : "x64"}`;

export interface ReleasedArchive {
  target: string;
  file: string;
  rawBytes: number;
  archiveBytes: number;
}

export async function release(outDir: string, targetList: string[]): Promise<{ dir: string; archives: ReleasedArchive[] }> {
  const dir = join(outDir, `v${VERSION}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const archives: ReleasedArchive[] = [];
  for (const t of targetList) {
    const staging = await mkdtemp(join(tmpdir(), `devx-release-${t}-`));
    try {
      const bin = join(staging, "devx");
      await build("src/bin.ts", bin, t === host ? undefined : `bun-${t}`);
      await chmod(bin, 0o755);
      const file = `devx-${t}.tar.gz`;
      // portable: no user names, ids or times of this machine in the archive
      await tarCreate({ cwd: staging, file: join(dir, file), gzip: { level: 9 }, portable: true }, ["devx"]);
      archives.push({ target: t, file, rawBytes: (await stat(bin)).size, archiveBytes: (await stat(join(dir, file))).size });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }
  await cp(join(root, "install.sh"), join(dir, "install.sh"));
  const lines: string[] = [];
  for (const f of (await readdir(dir)).sort()) {
    const hash = createHash("sha256").update(await Bun.file(join(dir, f)).bytes()).digest("hex");
    lines.push(`${hash}  ${f}`);
  }
  await Bun.write(join(dir, "checksums.txt"), lines.join("\n") + "\n");
  const latest = join(outDir, "latest");
  await rm(latest, { recursive: true, force: true });
  await cp(dir, latest, { recursive: true });
  return { dir, archives };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { all: { type: "boolean", default: false }, out: { type: "string" } } });
  const targets = values.all ? ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64"] : [host];
  const out = values.out === undefined ? join(root, "release") : resolve(process.cwd(), values.out);
  const { dir, archives } = await release(out, targets);
  for (const a of archives) console.error(`${a.file}: binary ${formatBytes(a.rawBytes)}, archive ${formatBytes(a.archiveBytes)} (${((a.archiveBytes / a.rawBytes) * 100).toFixed(0)}%)`);
  console.error(`release ${VERSION} in ${dir}`);
}
