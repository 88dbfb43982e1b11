import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "../..");
export const BINARY = resolve(ROOT, "dist/devx");

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** The compiled binary, rebuilt when missing or older than any source (CI builds it first). */
export function ensureBinary(): string {
  const sources = ["src", "tui", "providers", "package.json"].map((d) => resolve(ROOT, d));
  const fresh = existsSync(BINARY) && statSync(BINARY).mtimeMs >= Math.max(...sources.map((d) => (statSync(d).isDirectory() ? newestSource(d) : statSync(d).mtimeMs)));
  if (fresh && !process.env.DEVX_TEST_REBUILD) return BINARY;
  const r = Bun.spawnSync(["bun", "scripts/build.ts"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`build failed: ${r.stderr.toString()}`);
  return BINARY;
}

export interface BinResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the compiled binary without a TTY, in an isolated DEVX_HOME (from the test preload). */
export async function runBinary(args: string[], opts: { cwd?: string; env?: Record<string, string | undefined>; input?: string } = {}): Promise<BinResult> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, ...opts.env })) if (v !== undefined) env[k] = v;
  const p = Bun.spawn([ensureBinary(), ...args], { cwd: opts.cwd ?? ROOT, env, stdin: opts.input !== undefined ? new Blob([opts.input]) : "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}
