#!/usr/bin/env bun
/**
 * What the devx binary holds (issue 18 item 4), each figure next to its baseline from the same run:
 *   - the binary against the Bun runtime it embeds (this machine's `bun`): our payload over it
 *   - the payload's parts: each build option of scripts/build.ts switched off in turn (bytecode
 *     for fast start, embedded source maps for --debug traces, kept names)
 *   - the largest packages in the bundle (source bytes in, from Bun's metafile) and the bundled
 *     JavaScript out (after tree shaking and minification)
 *   - the release archive (tar.gz -9, as scripts/release.ts makes it) against the raw binary
 *
 *   bun bench/binary-size.ts
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { create as tarCreate } from "tar";
import { build, type BuildOptions } from "../scripts/build.ts";
import { formatBytes } from "../src/events/format.ts";

const root = resolve(import.meta.dir, "..");
const tmp = mkdtempSync(join(tmpdir(), "devx-bench-size-"));
const runtime = statSync(process.execPath).size;
const pct = (x: number, of: number) => `${((100 * x) / of).toFixed(1)}%`;

try {
  const variants: Array<[string, BuildOptions]> = [
    ["shipped (bytecode, source maps, names)", {}],
    ["without bytecode", { bytecode: false }],
    ["without source maps", { sourcemap: false }],
    ["without kept names", { keepNames: false }],
    ["none of the three", { bytecode: false, sourcemap: false, keepNames: false }],
  ];
  const sizes = new Map<string, number>();
  for (const [name, opts] of variants) {
    const out = join(tmp, "devx");
    await build("src/bin.ts", out, undefined, opts);
    sizes.set(name, statSync(out).size);
    if (name.startsWith("shipped")) {
      await tarCreate({ cwd: tmp, file: join(tmp, "devx.tar.gz"), gzip: { level: 9 }, portable: true }, ["devx"]);
    }
  }
  const shipped = sizes.get(variants[0]![0])!;
  const payload = shipped - runtime;
  console.log(`binary ${formatBytes(shipped)}; the Bun runtime it embeds ${formatBytes(runtime)} (${pct(runtime, shipped)}); devx's payload ${formatBytes(payload)} (${pct(payload, shipped)})`);
  for (const [name] of variants.slice(1)) {
    const saved = shipped - sizes.get(name)!;
    console.log(`  ${name.padEnd(24)} ${formatBytes(sizes.get(name)!).padStart(10)}  saves ${formatBytes(saved).padStart(9)} (${pct(saved, payload)} of the payload)`);
  }
  const archive = statSync(join(tmp, "devx.tar.gz")).size;
  console.log(`release archive (tar.gz -9) ${formatBytes(archive)} = ${(archive / shipped).toFixed(2)}× the raw binary`);

  // what goes into the bundle, by package (source bytes in), and the JavaScript that comes out
  const r = await Bun.build({ entrypoints: [join(root, "src/bin.ts")], outdir: join(tmp, "js"), target: "bun", format: "esm", splitting: true, minify: true, metafile: true, external: ["react-devtools-core"] });
  const inputs = Object.entries((r.metafile as { inputs: Record<string, { bytes: number }> }).inputs);
  const byPkg = new Map<string, number>();
  for (const [p, v] of inputs) {
    const nm = p.split("node_modules/").pop()!;
    const key = p.includes("node_modules/") ? nm.split("/").slice(0, nm.startsWith("@") ? 2 : 1).join("/") : p.split("/").slice(0, 2).join("/");
    byPkg.set(key, (byPkg.get(key) ?? 0) + v.bytes);
  }
  const totalIn = [...byPkg.values()].reduce((a, b) => a + b, 0);
  const out = r.outputs.reduce((a, o) => a + o.size, 0);
  console.log(`bundle: ${formatBytes(totalIn)} of source in, ${formatBytes(out)} of minified JavaScript out (${r.outputs.length} chunks); largest inputs:`);
  for (const [k, b] of [...byPkg].sort((a, b) => b[1] - a[1]).slice(0, 10)) console.log(`  ${formatBytes(b).padStart(10)}  ${pct(b, totalIn).padStart(6)}  ${k}`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
