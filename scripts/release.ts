#!/usr/bin/env bun
/**
 * Builds a release folder that install.sh can install from:
 *   release/v<version>/devx-<os>-<arch>, checksums.txt, install.sh   (and the same under release/latest/)
 *
 *   bun scripts/release.ts                 # this machine's target only
 *   bun scripts/release.ts --all           # linux/darwin × x64/arm64 (cross-compiles)
 *   bun scripts/release.ts --out dir
 */
import { parseArgs } from "node:util";
import { mkdir, rm, cp, readdir } from "node:fs/promises";
import { resolve, join } from "node:path";
import { createHash } from "node:crypto";
import { build } from "./build.ts";
import { VERSION } from "../src/version.ts";

const { values } = parseArgs({ options: { all: { type: "boolean", default: false }, out: { type: "string", default: "release" } } });
const root = resolve(import.meta.dir, "..");
const host = `${process.platform}-${process.arch === "arm64" ? "arm64" : "x64"}`;
const targets = values.all ? ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64"] : [host];

export async function release(outDir: string, targetList: string[]): Promise<string> {
  const dir = join(outDir, `v${VERSION}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  for (const t of targetList) {
    await build("src/bin.ts", join(dir, `devx-${t}`), t === host ? undefined : `bun-${t}`);
  }
  const lines: string[] = [];
  for (const f of (await readdir(dir)).sort()) {
    const hash = createHash("sha256").update(await Bun.file(join(dir, f)).bytes()).digest("hex");
    lines.push(`${hash}  ${f}`);
  }
  await Bun.write(join(dir, "checksums.txt"), lines.join("\n") + "\n");
  await cp(join(root, "install.sh"), join(dir, "install.sh"));
  const latest = join(outDir, "latest");
  await rm(latest, { recursive: true, force: true });
  await cp(dir, latest, { recursive: true });
  return dir;
}

if (import.meta.main) {
  const dir = await release(resolve(root, values.out!), targets);
  console.error(`release ${VERSION} in ${dir}`);
}
