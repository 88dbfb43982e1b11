#!/usr/bin/env bun
/**
 * Startup cost of the devx binary, each figure next to a baseline compiled in the same run with
 * the same flags (scripts/build.ts `build()`), printed as a ratio:
 *   - `devx --version` vs a hello-world binary (target: within 1.5×), and vs devx built without
 *     embedded source maps and kept names (what --debug traces cost at start-up)
 *   - time to the dashboard's first frame in a PTY (header text arrives) vs the hello-world's
 *     output and vs a one-line Ink app (target: under 250 ms)
 *
 *   bun bench/startup.ts [--runs 20]
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { build } from "../scripts/build.ts";
import { formatBytes } from "../src/events/format.ts";

const { values } = parseArgs({ args: Bun.argv.slice(2), options: { runs: { type: "string", default: "20" } } });
const RUNS = Number(values.runs);
const root = resolve(import.meta.dir, "..");
const tmp = mkdtempSync(join(tmpdir(), "devx-bench-"));

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ms = (x: number) => `${x.toFixed(1)} ms`;

/** Wall time from spawn to exit, no TTY. */
async function timeExit(argv: string[]): Promise<number> {
  const t0 = performance.now();
  const p = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe", env: { ...process.env, DEVX_HOME: join(tmp, "home") } });
  await new Response(p.stdout).text();
  if ((await p.exited) !== 0) throw new Error(`${argv.join(" ")} failed`);
  return performance.now() - t0;
}

/** Time from spawn in a PTY until `marker` has been written to the terminal; then q (or kill). */
async function timeFirstFrame(argv: string[], marker: string, cwd: string): Promise<number> {
  const dec = new TextDecoder();
  let seen = "";
  let t1 = 0;
  const { promise: shown, resolve: done } = Promise.withResolvers<void>();
  const t0 = performance.now();
  const p = Bun.spawn(argv, {
    cwd,
    env: { ...process.env, DEVX_HOME: join(tmp, "home"), TERM: "xterm-256color" },
    terminal: {
      cols: 120,
      rows: 32,
      data(_t, data) {
        if (t1) return;
        seen += dec.decode(data, { stream: true });
        if (seen.includes(marker)) {
          t1 = performance.now();
          done();
        }
      },
    },
  });
  const timer = setTimeout(() => done(), 10_000);
  await shown;
  clearTimeout(timer);
  if (!t1) {
    p.kill();
    throw new Error(`${argv[0]}: no "${marker}" within 10 s; got ${JSON.stringify(seen.slice(-300))}`);
  }
  p.terminal?.write("q");
  const killer = setTimeout(() => p.kill(), 2000);
  await p.exited;
  clearTimeout(killer);
  p.terminal?.close();
  return t1 - t0;
}

/** Alternate the two commands run by run so machine noise hits both alike. */
async function pair(a: () => Promise<number>, b: () => Promise<number>): Promise<[number, number]> {
  await a();
  await b(); // warm the page cache
  const xa: number[] = [];
  const xb: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    xa.push(await a());
    xb.push(await b());
  }
  return [median(xa), median(xb)];
}

try {
  const devx = join(tmp, "devx");
  const bare = join(tmp, "devx-no-maps");
  const hello = join(tmp, "hello");
  const helloInk = join(tmp, "hello-ink");
  const t = performance.now();
  await build(join(root, "src/bin.ts"), devx);
  await build(join(root, "src/bin.ts"), bare, undefined, { sourcemap: false, keepNames: false });
  await build(join(root, "bench/fixtures/hello.ts"), hello);
  await build(join(root, "bench/fixtures/hello-ink.tsx"), helloInk);
  console.log(`built devx + baselines in ${ms(performance.now() - t)} (same flags: scripts/build.ts)`);

  const project = join(tmp, "project");
  await Bun.write(join(project, "devx.yaml"), "name: bench\n");
  writeFileSync(join(tmp, ".keep"), "");

  const [version, helloRun] = await pair(() => timeExit([devx, "--version"]), () => timeExit([hello]));
  console.log(`devx --version        median ${ms(version)}   hello-world ${ms(helloRun)}   ratio ${(version / helloRun).toFixed(2)}×   (target ≤ 1.5×)`);
  const [mapped, unmapped] = await pair(() => timeExit([devx, "--version"]), () => timeExit([bare, "--version"]));
  const [mappedHelp, unmappedHelp] = await pair(() => timeExit([devx, "--help"]), () => timeExit([bare, "--help"]));
  console.log(`source maps + names   --version ${ms(mapped)} vs ${ms(unmapped)} without (${(mapped / unmapped).toFixed(2)}×)   --help ${ms(mappedHelp)} vs ${ms(unmappedHelp)} (${(mappedHelp / unmappedHelp).toFixed(2)}×)   size ${formatBytes(Bun.file(devx).size - Bun.file(bare).size)} more`);

  const [frame, helloFrame] = await pair(() => timeFirstFrame([devx], "devx 0.", project), () => timeFirstFrame([hello], "hello", project));
  const [, inkFrame] = await pair(async () => 0, () => timeFirstFrame([helloInk], "hello", project));
  console.log(`dashboard first frame median ${ms(frame)}   hello-world ${ms(helloFrame)} (${(frame / helloFrame).toFixed(2)}×)   one-line Ink app ${ms(inkFrame)} (${(frame / inkFrame).toFixed(2)}×)   (target < 250 ms: ${frame < 250 ? "met" : "MISSED"})`);
  console.log(`runs: ${RUNS} each, alternated; PTY 120x32`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
