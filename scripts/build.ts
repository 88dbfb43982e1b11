#!/usr/bin/env bun
/**
 * Builds ./dist/devx: one self-contained executable.
 * Flags from the env README: ESM + bytecode + splitting + minify for fast start; no autoload of the
 * user's .env / bunfig.toml at run time; react-devtools-core (an optional Ink import) stubbed.
 *
 *   bun scripts/build.ts [--target bun-linux-x64] [--outfile dist/devx] [--entry src/bin.ts]
 */
import { parseArgs } from "node:util";
import { rm } from "node:fs/promises";
import { resolve } from "node:path";

const root = resolve(import.meta.dir, "..");
const stub = resolve(root, "stubs/react-devtools-core.ts");
const stringWidthStub = resolve(root, "stubs/string-width.ts");

/** Knobs for size and start-up experiments (bench/); the defaults are what ships. */
export interface BuildOptions {
  /** source maps in the binary: --debug stack traces name files and lines of src/, not chunks */
  sourcemap?: boolean;
  /** keep function and class names (minify whitespace and syntax only): traces name the function */
  keepNames?: boolean;
  bytecode?: boolean;
}

export async function build(entry: string, outfile: string, target?: string, opts: BuildOptions = {}): Promise<void> {
  const { sourcemap = true, keepNames = true, bytecode = true } = opts;
  const result = await Bun.build({
    entrypoints: [resolve(root, entry)],
    compile: {
      outfile: resolve(root, outfile),
      autoloadDotenv: false,
      autoloadBunfig: false,
      ...(target ? { target: target as Bun.Build.CompileTarget } : {}),
    },
    format: "esm",
    bytecode,
    minify: keepNames ? { whitespace: true, syntax: true, identifiers: false } : true,
    splitting: true,
    // embedded in the binary and applied by Bun to every stack trace
    sourcemap: sourcemap ? "linked" : "none",
    define: { "process.env.NODE_ENV": '"production"', "process.env.DEV": '"false"' },
    plugins: [
      {
        name: "stub-react-devtools-core",
        setup(b) {
          b.onResolve({ filter: /^react-devtools-core$/ }, () => ({ path: stub }));
          // Bun's native string width: the npm one costs 70–150 ms on the first frame (see the stub)
          b.onResolve({ filter: /^string-width$/ }, () => ({ path: stringWidthStub }));
        },
      },
    ],
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    throw new Error(`build of ${entry} failed`);
  }
  // the maps are inside the binary; the copies Bun also writes beside it are not shipped
  await Promise.all(result.outputs.filter((o) => o.kind === "sourcemap" || o.path.endsWith(".map")).map((o) => rm(o.path, { force: true })));
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      target: { type: "string" },
      outfile: { type: "string", default: "dist/devx" },
      entry: { type: "string", default: "src/bin.ts" },
    },
  });
  const t0 = performance.now();
  await build(values.entry!, values.outfile!, values.target);
  console.error(`built ${values.outfile} in ${Math.round(performance.now() - t0)} ms`);
}
