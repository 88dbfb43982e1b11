#!/usr/bin/env bun
/**
 * `devx state` benchmarks, each printed next to a baseline measured in the same run, as a ratio.
 *
 *  1. share + attach of STATE_BENCH_MB (default 1024) MiB of volume data (half random, half text)
 *     through file:// and a local s3rver, with the compiled binary (dist/devx), against
 *     `tar | gzip -1 | openssl enc -aes-256-ctr` (and its reverse) on the same data.
 *  2. peak RSS (VmHWM) of the devx process in each run (target < 150 MB).
 *  3. checkpoint + restore of a redis holding ~STATE_BENCH_REDIS_KEYS × 100-byte values (default
 *     2,000,000 ≈ 300 MB RSS) against the raw podman commands doing the same work.
 *
 *   bun run build && bun bench/state-share.ts
 *   STATE_BENCH_MB=256 STATE_BENCH_SKIP_REDIS=1 bun bench/state-share.ts     # quicker
 *   STATE_BENCH_BIN=/path/to/devx bun bench/state-share.ts                   # another build (before/after)
 *   STATE_BENCH_ROUNDS=9 STATE_BENCH_SKIP_VOLUME=1 bun bench/state-share.ts   # redis only, more rounds (default 5)
 * Needs root podman + CRIU (scripts/setup-containers.sh). Everything binds 127.0.0.1.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { ensureBusyboxImage, BUSYBOX_IMAGE } from "../test/support/images.ts";
import { startS3Server } from "../test/support/s3-server.ts";
import { ensureTestImage } from "../scripts/build-test-images.ts";

const ROOT = resolve(import.meta.dir, "..");
const BIN = process.env.STATE_BENCH_BIN ?? join(ROOT, "dist/devx");
const MB = Number(process.env.STATE_BENCH_MB ?? 1024);
const REDIS_KEYS = Number(process.env.STATE_BENCH_REDIS_KEYS ?? 2_000_000);
const work = mkdtempSync(join(process.env.STATE_BENCH_DIR ?? "/var/tmp", "devx-bench-state-"));
const project = `bench${process.pid}`;
const volume = `${project}-data`;

function sh(argv: string[], env?: Record<string, string>): string {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

/** Run a command to completion; wall time and the child's peak RSS (VmHWM, polled: monotonic). */
async function measure(argv: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<{ ms: number; hwmKiB: number; out: string }> {
  const t0 = performance.now();
  const p = Bun.spawn(argv, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdout: "pipe", stderr: "pipe" });
  let hwm = 0;
  const poll = setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.pid}/status`, "utf8"));
      if (m) hwm = Math.max(hwm, Number(m[1]));
    } catch {
      /* exited */
    }
  }, 20);
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearInterval(poll);
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}: ${err}`);
  return { ms: performance.now() - t0, hwmKiB: hwm, out };
}

const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const rate = (ms: number) => `${(MB / (ms / 1000)).toFixed(0)} MiB/s`;
const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;

function cleanup(): void {
  Bun.spawnSync(["sh", "-c", `podman rm -f -t 0 $(podman ps -aq --filter label=devx.project=${project}) >/dev/null 2>&1; podman volume rm -f $(podman volume ls -q --filter label=devx.project=${project}) >/dev/null 2>&1; true`]);
}

async function volumeBench(): Promise<void> {
  ensureBusyboxImage();
  sh(["podman", "volume", "create", "--label", "devx.managed=true", "--label", `devx.project=${project}`, "--label", "devx.kind=database", volume]);
  const half = Math.floor(MB / 2);
  sh(["podman", "run", "--rm", "-v", `${volume}:/data`, BUSYBOX_IMAGE, "sh", "-c", `head -c ${half}m /dev/urandom > /data/random.bin && yes 'INSERT INTO events VALUES (42, now(), "devx benchmark row with some text")' | head -c ${MB - half}m > /data/rows.sql`]);
  const mount = JSON.parse(sh(["podman", "volume", "inspect", volume]))[0].Mountpoint as string;

  // baseline: the classic pipeline on the same bytes
  const pw = { BENCH_PW: "correct-horse-battery-staple" };
  const encFile = join(work, "baseline.enc");
  const baseShare = await measure(["sh", "-c", `tar -C '${mount}' -cf - . | gzip -1 | openssl enc -aes-256-ctr -pbkdf2 -pass env:BENCH_PW > '${encFile}'`], { env: pw });
  const dest = join(work, "baseline-out");
  mkdirSync(dest);
  const baseAttach = await measure(["sh", "-c", `openssl enc -d -aes-256-ctr -pbkdf2 -pass env:BENCH_PW < '${encFile}' | gunzip | tar -C '${dest}' -xf -`], { env: pw });
  rmSync(dest, { recursive: true, force: true });
  rmSync(encFile, { force: true });
  console.log(`baseline tar|gzip -1|openssl enc  ${MB} MiB: share ${fmt(baseShare.ms)} (${rate(baseShare.ms)}), attach ${fmt(baseAttach.ms)} (${rate(baseAttach.ms)})`);

  const s3 = await startS3Server();
  try {
    const proj = join(work, "project");
    mkdirSync(proj, { recursive: true });
    const relays: Array<[string, string, Record<string, string>]> = [
      ["file://", pathToFileURL(join(work, "relay")).href, {}],
      ["s3rver", `s3://${s3.bucket}/bench`, { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey }],
    ];
    for (const [label, relay, creds] of relays) {
      writeFileSync(join(proj, "devx.yaml"), `name: ${project}\nstate:\n  endpoint: ${s3.endpoint}\n  path_style: true\n  region: us-east-1\n`);
      const env = { ...creds, DEVX_HOME: join(work, "home"), NO_COLOR: "1" };
      const share = await measure([BIN, "state", "share", "--db-only", "--relay", relay, "--json"], { cwd: proj, env });
      const { id, bytes } = JSON.parse(share.out) as { id: string; bytes: number };
      const digestBefore = sh(["sh", "-c", `cd '${mount}' && sha256sum random.bin rows.sql`]);
      sh(["podman", "volume", "rm", volume]); // the teammate's machine has no such volume
      const attach = await measure([BIN, "state", "attach", "-y", id], { cwd: proj, env });
      const mount2 = JSON.parse(sh(["podman", "volume", "inspect", volume]))[0].Mountpoint as string;
      if (sh(["sh", "-c", `cd '${mount2}' && sha256sum random.bin rows.sql`]) !== digestBefore) throw new Error("attach did not reproduce the data");
      console.log(
        `devx ${label.padEnd(7)} share  ${fmt(share.ms)} (${rate(share.ms)}, ${(bytes / 2 ** 20).toFixed(0)} MiB stored)  ratio to baseline ${(baseShare.ms / share.ms).toFixed(2)}×  peak RSS ${mib(share.hwmKiB)}`,
      );
      console.log(`devx ${label.padEnd(7)} attach ${fmt(attach.ms)} (${rate(attach.ms)})  ratio to baseline ${(baseAttach.ms / attach.ms).toFixed(2)}×  peak RSS ${mib(attach.hwmKiB)}  (target < 150 MiB)`);
      // attach took a restore point of nothing and left none to undo into; start the next relay clean
      rmSync(join(work, "home", "state", "restore-points"), { recursive: true, force: true });
    }
  } finally {
    await s3.stop();
  }
  console.log("(throughput ratio = baseline time / devx time: 1.0 is as fast as the baseline; attach also verifies every volume by re-export)");
}

async function redisBench(): Promise<void> {
  const image = await ensureTestImage("redis");
  const name = `${project}-redis`;
  const proj = join(work, "redis-project");
  mkdirSync(proj, { recursive: true });
  writeFileSync(join(proj, "devx.yaml"), `name: ${project}\n`);
  const env = { DEVX_HOME: join(work, "home-redis"), NO_COLOR: "1" };
  const startRedis = () => {
    sh(["podman", "run", "-d", "--name", name, "--label", "devx.managed=true", "--label", `devx.project=${project}`, "--label", "devx.kind=service", image, "redis-server", "--save", "", "--appendonly", "no", "--enable-debug-command", "yes"]);
    for (let i = 0; i < 200 && Bun.spawnSync(["podman", "exec", name, "redis-cli", "ping"]).stdout.toString().trim() !== "PONG"; i++) Bun.sleepSync(50);
    sh(["podman", "exec", name, "redis-cli", "DEBUG", "POPULATE", String(REDIS_KEYS), "key", "100"]);
  };
  startRedis();
  const rss = sh(["podman", "exec", name, "redis-cli", "INFO", "memory"]).match(/used_memory_rss:(\d+)/)?.[1];
  console.log(`redis with ${REDIS_KEYS} keys: RSS ${(Number(rss) / 2 ** 20).toFixed(0)} MiB`);

  // raw podman: checkpoint (leave running) to an archive; then what a safe restore does: checkpoint
  // the current container, remove it, restore the archive. Rounds alternate which side goes first
  // (the first checkpoint of a process is slower), and medians are reported.
  const a = join(work, "raw-a.tar.zst");
  const b = join(work, "raw-b.tar.zst");
  // every measured command starts on a settled disk: the archives written by the one before (and the
  // volume benchmark's gigabytes) are flushed first, outside the timing, for raw and devx alike
  const settle = () => Bun.spawnSync(["sync"]);
  const raw = async () => {
    settle();
    const ck = await measure(["podman", "container", "checkpoint", "--leave-running", `--export=${a}`, "--compress=zstd", "--ignore-volumes", name]);
    settle();
    const rs = await measure(["sh", "-c", `podman container checkpoint --export='${b}' --compress=zstd --ignore-volumes ${name} >/dev/null && podman rm -f -t 0 ${name} >/dev/null && podman container restore --import='${a}' --ignore-volumes >/dev/null`]);
    rmSync(a, { force: true });
    rmSync(b, { force: true });
    return { ck: ck.ms, rs: rs.ms };
  };
  const devx = async () => {
    settle();
    const ck = await measure([BIN, "state", "checkpoint", "bench", "--force"], { cwd: proj, env });
    settle();
    const rs = await measure([BIN, "state", "restore", "bench", "-y"], { cwd: proj, env });
    rmSync(join(env.DEVX_HOME, "state", "restore-points"), { recursive: true, force: true });
    return { ck: ck.ms, rs: rs.ms, hwm: Math.max(ck.hwmKiB, rs.hwmKiB) };
  };
  const rounds = Number(process.env.STATE_BENCH_ROUNDS ?? 5);
  const R: Array<{ ck: number; rs: number }> = [];
  const D: Array<{ ck: number; rs: number; hwm: number }> = [];
  for (let i = 0; i < rounds; i++) {
    if (i % 2 === 0) {
      R.push(await raw());
      D.push(await devx());
    } else {
      D.push(await devx());
      R.push(await raw());
    }
  }
  if (sh(["podman", "exec", name, "redis-cli", "DBSIZE"]).trim() !== String(REDIS_KEYS)) throw new Error("restored redis lost keys");
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const [rc, rr, dc, dr] = [med(R.map((x) => x.ck)), med(R.map((x) => x.rs)), med(D.map((x) => x.ck)), med(D.map((x) => x.rs))];
  const pct = (d: number, r: number) => `${((d / r - 1) * 100).toFixed(1)}%`;
  const list = (xs: number[]) => xs.map((x) => (x / 1000).toFixed(2)).join(" ");
  console.log(`rounds (s): checkpoint raw [${list(R.map((x) => x.ck))}] devx [${list(D.map((x) => x.ck))}]; restore raw [${list(R.map((x) => x.rs))}] devx [${list(D.map((x) => x.rs))}]`);
  console.log(`medians of ${rounds} interleaved rounds:`);
  console.log(`checkpoint: raw podman ${fmt(rc)}, devx ${fmt(dc)}  overhead ${pct(dc, rc)}`);
  console.log(`restore (restore point + replace): raw podman ${fmt(rr)}, devx ${fmt(dr)}  overhead ${pct(dr, rr)}`);
  // podman's own times drift by ±20% over a run; a round's raw and devx runs are next to each other,
  // so the median of the rounds' own ratios is the steadier figure (the one held to the target)
  const paired = med(R.map((r, i) => (D[i]!.ck + D[i]!.rs) / (r.ck + r.rs)));
  console.log(`checkpoint + restore: raw ${fmt(rc + rr)}, devx ${fmt(dc + dr)}  overhead ${pct(dc + dr, rc + rr)} (sum of medians)  devx peak RSS ${mib(Math.max(...D.map((x) => x.hwm)))}`);
  console.log(`checkpoint + restore overhead, median of the rounds' own ratios: ${((paired - 1) * 100).toFixed(1)}% (target < 10%)`);
}

try {
  if (!process.env.STATE_BENCH_SKIP_VOLUME) await volumeBench();
  cleanup();
  if (!process.env.STATE_BENCH_SKIP_REDIS) await redisBench();
} finally {
  cleanup();
  rmSync(work, { recursive: true, force: true });
}
