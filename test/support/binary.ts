import { existsSync } from "node:fs";
import { resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "../..");
export const BINARY = resolve(ROOT, "dist/devx");

/** The compiled binary; built once when missing (CI builds it before the tests). */
export function ensureBinary(): string {
  if (existsSync(BINARY) && !process.env.DEVX_TEST_REBUILD) return BINARY;
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
