#!/usr/bin/env bun
/**
 * Sandbox sessions through the control plane (issue 16), on the real parts: the compiled binary runs
 * `devx session serve --store sqlite` (a temporary DEVX_HOME, 127.0.0.1 on a free port) and makes
 * root podman containers from the session image (scripts/build-session-image.ts on the test Debian
 * base); everything goes through its HTTP API and its runner proxy `/s/<id>/v1/session`, as a
 * client elsewhere would. Every figure is printed next to a baseline measured in the same run, as a
 * ratio (a bench, not a test: nothing is asserted):
 *   1. keystroke round trip: one byte in → the same byte out of a terminal running `cat` in a raw
 *      PTY, sequentially, p50/p99 over --keys keystrokes; baseline: a bare Bun.serve WebSocket echo
 *      server on 127.0.0.1 measured by the same client code. Target: added p50 < 0.5 ms.
 *   2. create → first prompt: POST /api/v1/sessions → runner token → socket → term.open → the first
 *      output byte of the shell, median of --runs; baseline: `podman run --rm --entrypoint sh <same
 *      image> -c 'echo ready'` to its first output byte. Target: ≤ 1.5×.
 *   3. scale: --sessions sessions × --terms terminals (one socket each, all through the one control
 *      plane), each typing a keystroke every 100 ms for --seconds; the control plane's peak RSS
 *      (VmHWM of its process) and the max/p99 round trip, next to (1) and next to the same load on
 *      the bare echo server (what the bench client itself adds under that load).
 *      Targets: peak RSS < 300 MB, max round trip ≤ 5 ms.
 * Sessions are deleted through the API, `serve` is stopped and the state directory removed, also on
 * failure or Ctrl-C (containers and volumes labelled with this run's sessions are removed by podman
 * as a last resort).
 *
 *   sudo bun bench/session.ts [--keys 2000] [--runs 3] [--sessions 10] [--terms 20] [--seconds 10]
 *
 * Needs root podman (the machine's podman 4.3) and a built binary (rebuilt here when stale).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ensureBinary } from "../test/support/binary.ts";
import { FRAME, SUBPROTOCOL, TOKEN_SUBPROTOCOL_PREFIX, encodeFrame } from "../src/session/protocol/index.ts";
import { sessionImage, startServe } from "../test/support/session-serve.ts";

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    keys: { type: "string", default: "2000" },
    runs: { type: "string", default: "3" },
    sessions: { type: "string", default: "10" },
    terms: { type: "string", default: "20" },
    seconds: { type: "string", default: "10" },
  },
});
const KEYS = Number(values.keys);
const RUNS = Number(values.runs);
const SESSIONS = Number(values.sessions);
const TERMS = Number(values.terms);
const SECONDS = Number(values.seconds);
const INTERVAL_MS = 100;

const run = `${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const home = mkdtempSync(join(tmpdir(), "devx-bench-session-"));
const created = new Set<string>();
let serve: import("bun").Subprocess<"ignore", "pipe", "pipe"> | undefined;
let base = "";
let apiToken = "";
const serveLog: string[] = [];
const sockets = new Set<WebSocket>();

// ---------- helpers ----------

const median = (xs: number[]) => pct(xs, 50);
function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
const fmt = (x: number) => (x < 10 ? `${x.toFixed(3)} ms` : `${x.toFixed(1)} ms`);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
const mb = (kb: number) => `${(kb / 1024).toFixed(1)} MB`;

function env(over: Record<string, string> = {}): Record<string, string> {
  const e: Record<string, string> = {};
  for (const [k, val] of Object.entries(process.env)) if (val !== undefined && !k.startsWith("DEVX_SESSION_")) e[k] = val;
  return { ...e, DEVX_HOME: home, NO_COLOR: "1", ...over };
}

const podman = (args: string[]) => Bun.spawnSync(["podman", ...args], { stdout: "pipe", stderr: "pipe" });

async function devx(bin: string, args: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([bin, ...args], { env: env(), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

async function api<T = Record<string, unknown>>(path: string, o: { method?: string; body?: unknown; status: number }): Promise<T> {
  const r = await fetch(`${base}/api/v1${path}`, {
    method: o.method ?? "GET",
    headers: { authorization: `Bearer ${apiToken}`, ...(o.body !== undefined ? { "content-type": "application/json" } : {}) },
    body: o.body !== undefined ? JSON.stringify(o.body) : undefined,
  });
  const text = await r.text();
  if (r.status !== o.status) throw new Error(`${o.method ?? "GET"} ${path}: expected ${o.status}, got ${r.status}: ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

async function createSession(name: string): Promise<void> {
  created.add(name);
  await api(`/sessions`, { method: "POST", body: { name }, status: 201 });
}

async function deleteSession(name: string): Promise<void> {
  await api(`/sessions/${name}`, { method: "DELETE", status: 204 });
  created.delete(name);
}

const runnerToken = async (id: string) => (await api<{ token: string }>(`/sessions/${id}/tokens`, { method: "POST", body: {}, status: 201 })).token;

function openSocket(url: string, protocols?: string[]): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols);
  ws.binaryType = "arraybuffer";
  sockets.add(ws);
  return new Promise((resolve, reject) => {
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error(`WebSocket ${url.replace(/\?.*/, "")} refused`));
  });
}

/**
 * One byte in, the same byte back, timed. The same code drives the terminal (a termInput frame in,
 * termOutput frames back) and the baseline echo server (the frame comes back unchanged): a
 * keystroke counts as echoed when a binary message whose last byte is that key arrives.
 */
class Keys {
  private want = -1;
  private done?: () => void;
  private timer?: ReturnType<typeof setTimeout>;
  private onText?: (m: Record<string, unknown>) => void;
  firstOutput?: Promise<number>;
  private firstResolve?: (t: number) => void;
  private nextId = 1;
  private waiters = new Map<number, (m: Record<string, unknown>) => void>();

  constructor(
    readonly ws: WebSocket,
    private channel: number,
  ) {
    this.firstOutput = new Promise((r) => (this.firstResolve = r));
    ws.onmessage = (e) => {
      if (typeof e.data === "string") {
        const m = JSON.parse(e.data) as Record<string, unknown>;
        if (typeof m.id === "number") this.waiters.get(m.id)?.(m);
        this.onText?.(m);
        return;
      }
      const b = new Uint8Array(e.data as ArrayBuffer);
      if (b.length > 5) this.firstResolve?.(performance.now());
      if (this.want >= 0 && b.length > 5 && b[b.length - 1] === this.want) {
        this.want = -1;
        clearTimeout(this.timer);
        this.done?.();
      }
    };
  }

  /** A request of the protocol (JSON), answered ok or err. */
  request(t: string, fields: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiters.set(id, (m) => {
        this.waiters.delete(id);
        if (m.t === "ok") resolve(m);
        else reject(new Error(`${t}: ${String(m.code)}: ${String(m.message)}`));
      });
      this.ws.send(JSON.stringify({ t, id, ...fields }));
    });
  }

  setChannel(c: number): void {
    this.channel = c;
  }

  send(bytes: Uint8Array): void {
    this.ws.send(encodeFrame(FRAME.termInput, this.channel, bytes));
  }

  /** Round trip of one key, in ms. */
  key(k: number, timeoutMs = 10_000): Promise<number> {
    return new Promise((resolve, reject) => {
      const t0 = performance.now();
      this.want = k;
      this.done = () => resolve(performance.now() - t0);
      this.timer = setTimeout(() => reject(new Error(`no echo of key ${k} within ${timeoutMs} ms`)), timeoutMs);
      this.ws.send(encodeFrame(FRAME.termInput, this.channel, Uint8Array.of(k)));
    });
  }

  /** Wait until a binary message ends with `marker` (used once, to know `stty raw` took effect). */
  async sync(marker: number): Promise<void> {
    await this.key(marker, 15_000);
  }
}

const KEY = (i: number) => 0x61 + (i % 26); // a…z
const SYNC = 0x21; // "!" — never one of the keys

/** A terminal running `cat` in a raw PTY without echo: every byte comes back exactly once, from cat. */
async function catTerminal(session: string): Promise<Keys> {
  const ws = await openSocket(`${base.replace("http", "ws")}/s/${session}/v1/session`, [SUBPROTOCOL, `${TOKEN_SUBPROTOCOL_PREFIX}${await runnerToken(session)}`]);
  const k = new Keys(ws, 0);
  const r = await k.request("term.open", { cols: 80, rows: 24, argv: ["sh", "-c", "stty raw -echo && printf '%s' '!' && exec cat"] });
  k.setChannel(r.term as number);
  await k.firstOutput; // the "!" printed once raw mode is on
  await k.sync(SYNC);
  return k;
}

/** The baseline: a bare WebSocket echo on 127.0.0.1. */
function echoServer(): ReturnType<typeof Bun.serve> {
  return Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, srv) {
      if (srv.upgrade(req, { data: {} })) return undefined;
      return new Response("upgrade", { status: 400 });
    },
    websocket: { perMessageDeflate: false, idleTimeout: 0, message: (ws, m) => void ws.send(m) },
  });
}

async function sequential(k: Keys, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < 50; i++) await k.key(KEY(i)); // warm-up
  for (let i = 0; i < n; i++) out.push(await k.key(KEY(i)));
  return out;
}

/** Every client types one key each INTERVAL_MS (random phase) for SECONDS; all round trips. */
async function load(clients: Keys[]): Promise<{ rtts: number[]; errors: number }> {
  const rtts: number[] = [];
  let errors = 0;
  const end = performance.now() + SECONDS * 1000;
  await Promise.all(
    clients.map(async (k, c) => {
      await Bun.sleep(Math.random() * INTERVAL_MS);
      let next = performance.now();
      for (let i = 0; performance.now() < end; i++) {
        try {
          rtts.push(await k.key(KEY(i + c)));
        } catch {
          errors++;
        }
        next += INTERVAL_MS;
        const wait = next - performance.now();
        if (wait > 0) await Bun.sleep(wait);
      }
    }),
  );
  return { rtts, errors };
}

/** CPU seconds (user + system) a process has used so far. */
function cpu(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** CPU seconds the sandboxes' cgroups (runner, PTYs, cat) have used so far; NaN where unreadable. */
function sandboxCpu(ids: string[]): number {
  let total = 0;
  for (const id of ids) {
    const pid = podman(["container", "inspect", "--format", "{{.State.Pid}}", `devx-session-${id}`]).stdout.toString().trim();
    try {
      const lines = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n");
      const v1 = lines.find((l) => /^\d+:[^:]*\bcpuacct\b[^:]*:/.test(l));
      if (v1) total += Number(readFileSync(`/sys/fs/cgroup/cpuacct${v1.split(":")[2]}/cpuacct.usage`, "utf8")) / 1e9;
      else total += Number(/usage_usec (\d+)/.exec(readFileSync(`/sys/fs/cgroup${lines.find((l) => l.startsWith("0::"))!.slice(3)}/cpu.stat`, "utf8"))![1]) / 1e6;
    } catch {
      return NaN;
    }
  }
  return total;
}

function vm(pid: number, field: "VmHWM" | "VmRSS"): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}

/** Wall time from spawn to the first stdout byte. */
async function firstByte(argv: string[]): Promise<number> {
  const t0 = performance.now();
  const p = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const r = p.stdout.getReader();
  const { done } = await r.read();
  const t = performance.now() - t0;
  while (!(await r.read()).done);
  const code = await p.exited;
  if (done || code !== 0) throw new Error(`${argv.join(" ")} failed (${code}): ${await new Response(p.stderr).text()}`);
  return t;
}

// ---------- cleanup, whatever happens ----------

let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const ws of sockets) ws.close();
    if (serve && serve.exitCode === null && apiToken) {
      for (const id of [...created]) await deleteSession(id).catch((e) => console.error(`delete ${id}: ${(e as Error).message}`));
    }
    if (serve && serve.exitCode === null) {
      serve.kill("SIGTERM");
      await Promise.race([serve.exited, Bun.sleep(15_000)]);
      if (serve.exitCode === null) serve.kill("SIGKILL");
    }
    // last resort for what the API could not delete
    for (const id of created) for (const args of [["rm", "-f", "-t", "0", `devx-session-${id}`], ["volume", "rm", "-f", `devx-session-${id}`]]) podman(args);
    rmSync(home, { recursive: true, force: true });
  })();
  return cleaning;
}
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.on(sig, () => {
    console.error(`\n${sig}: cleaning up`);
    void cleanup().then(() => process.exit(130));
  });

// ---------- the bench ----------

async function main(): Promise<void> {
  const bin = ensureBinary();
  const image = await sessionImage(bin);

  const tok = await devx(bin, ["session", "token", "create", "--owner", "bench", "--store", "sqlite", "--json"]);
  if (tok.code !== 0) throw new Error(`token create: ${tok.err}`);
  apiToken = (JSON.parse(tok.out) as { token: string }).token;

  const started = await startServe(bin, ["--store", "sqlite", "--image", image], env(), serveLog);
  serve = started.proc;
  base = started.url;
  const pid = serve.pid;

  const la = loadavg();
  console.log(`devx sessions bench — image ${image}, control plane ${base} (pid ${pid}), load average ${la.map((x) => x.toFixed(2)).join(" ")}, ${navigator.hardwareConcurrency} CPUs\n`);

  // 1. keystroke round trip
  const echo = echoServer();
  const eb = new Keys(await openSocket(`ws://127.0.0.1:${echo.port}/`), 1);
  const main1 = `bench-k-${run}`;
  await createSession(main1);
  const term = await catTerminal(main1);
  // interleave halves so drift in the machine's load hits both alike
  const half = Math.ceil(KEYS / 2);
  const base1 = [...(await sequential(eb, half))];
  const sess1 = [...(await sequential(term, half))];
  base1.push(...(await sequential(eb, KEYS - half)));
  sess1.push(...(await sequential(term, KEYS - half)));
  const [bp50, bp99, sp50, sp99] = [pct(base1, 50), pct(base1, 99), pct(sess1, 50), pct(sess1, 99)];
  console.log(`1. keystroke round trip (${KEYS} keys, sequential)`);
  console.log(`   bare WebSocket echo      p50 ${fmt(bp50)}  p99 ${fmt(bp99)}  max ${fmt(Math.max(...base1))}`);
  console.log(`   session terminal (cat)   p50 ${fmt(sp50)}  p99 ${fmt(sp99)}  max ${fmt(Math.max(...sess1))}`);
  console.log(`   ratio p50 ${ratio(sp50, bp50)}, p99 ${ratio(sp99, bp99)}; added p50 ${fmt(sp50 - bp50)} (target < 0.5 ms), added p99 ${fmt(sp99 - bp99)}`);
  console.log(`   control plane after (1): RSS ${mb(vm(pid, "VmRSS"))}, peak ${mb(vm(pid, "VmHWM"))}\n`);
  term.ws.close();
  eb.ws.close();

  // 2. create → first prompt
  const tCreate: number[] = [];
  const tPodman: number[] = [];
  const tPost: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    tPodman.push(await firstByte(["podman", "run", "--rm", "--entrypoint", "sh", image, "-c", "echo ready"]));
    const id = `bench-c${i}-${run}`;
    const t0 = performance.now();
    await createSession(id);
    tPost.push(performance.now() - t0);
    const ws = await openSocket(`${base.replace("http", "ws")}/s/${id}/v1/session`, [SUBPROTOCOL, `${TOKEN_SUBPROTOCOL_PREFIX}${await runnerToken(id)}`]);
    const k = new Keys(ws, 0);
    await k.request("term.open", { cols: 80, rows: 24 });
    tCreate.push((await k.firstOutput!) - t0);
    ws.close();
    await deleteSession(id);
  }
  const [mc, mp] = [median(tCreate), median(tPodman)];
  console.log(`2. create → first prompt (median of ${RUNS})`);
  console.log(`   podman run --rm sh -c 'echo ready'   ${fmt(mp)}   (runs: ${tPodman.map((x) => x.toFixed(0)).join(", ")} ms)`);
  console.log(`   POST create → first terminal byte    ${fmt(mc)}   (runs: ${tCreate.map((x) => x.toFixed(0)).join(", ")} ms)`);
  console.log(`   of which the POST (201 once the runner answers)  ${fmt(median(tPost))}; token, socket, term.open → first byte ${fmt(median(tCreate.map((x, i) => x - tPost[i]!)))}`);
  console.log(`   ratio ${ratio(mc, mp)} (target ≤ 1.5×)\n`);

  // 3. scale
  const ids = Array.from({ length: SESSIONS }, (_, i) => `bench-s${i}-${run}`);
  const tUp = performance.now();
  for (const id of ids) await createSession(id);
  const upMs = performance.now() - tUp;
  const terms: Keys[] = [];
  for (const id of ids) for (let j = 0; j < TERMS; j++) terms.push(await catTerminal(id));
  const before = vm(pid, "VmHWM");
  const bases: Keys[] = [];
  for (let i = 0; i < terms.length; i++) bases.push(new Keys(await openSocket(`ws://127.0.0.1:${echo.port}/`), 1));
  let own = process.cpuUsage();
  const baseLoad = await load(bases);
  const baseOwn = process.cpuUsage(own);
  for (const b of bases) b.ws.close();
  own = process.cpuUsage();
  const cp0 = cpu(pid);
  const sb0 = sandboxCpu(ids);
  const sessLoad = await load(terms);
  const cpSec = cpu(pid) - cp0;
  const sbSec = sandboxCpu(ids) - sb0;
  const sessOwn = process.cpuUsage(own);
  const peak = vm(pid, "VmHWM");
  console.log(`3. scale: ${SESSIONS} sessions × ${TERMS} terminals = ${terms.length} sockets, a key every ${INTERVAL_MS} ms each for ${SECONDS} s (sessions up in ${(upMs / 1000).toFixed(1)} s)`);
  console.log(`   bare WebSocket echo, same load   ${baseLoad.rtts.length} keys  p50 ${fmt(pct(baseLoad.rtts, 50))}  p99 ${fmt(pct(baseLoad.rtts, 99))}  max ${fmt(Math.max(...baseLoad.rtts))}  errors ${baseLoad.errors}`);
  console.log(`   session terminals                ${sessLoad.rtts.length} keys  p50 ${fmt(pct(sessLoad.rtts, 50))}  p99 ${fmt(pct(sessLoad.rtts, 99))}  max ${fmt(Math.max(...sessLoad.rtts))}  errors ${sessLoad.errors} (target max ≤ 5 ms)`);
  console.log(`   vs one terminal alone (1)        p50 ${ratio(pct(sessLoad.rtts, 50), sp50)}  p99 ${ratio(pct(sessLoad.rtts, 99), sp99)}; vs the echo under the same load: p50 ${ratio(pct(sessLoad.rtts, 50), pct(baseLoad.rtts, 50))}  p99 ${ratio(pct(sessLoad.rtts, 99), pct(baseLoad.rtts, 99))}`);
  console.log(`   control plane peak RSS (VmHWM)   ${mb(peak)} (target < 300 MB); ${mb(before)} with the ${terms.length} sockets open before typing; RSS now ${mb(vm(pid, "VmRSS"))}`);
  const sec = (u: NodeJS.CpuUsage) => ((u.user + u.system) / 1e6).toFixed(2);
  console.log(`   CPU during the ${SECONDS} s of typing: control plane ${cpSec.toFixed(2)} s; the ${SESSIONS} sandboxes ${sbSec.toFixed(2)} s; this bench (the clients) ${sec(sessOwn)} s, ${sec(baseOwn)} s on the echo`);
  const la2 = loadavg();
  console.log(`\nload average at the end ${la2.map((x) => x.toFixed(2)).join(" ")}`);
  for (const k of terms) k.ws.close();
  echo.stop(true);
}

try {
  await main();
} catch (e) {
  console.error(`bench failed: ${(e as Error).stack ?? e}`);
  if (serveLog.length) console.error(`control plane log (tail):\n${serveLog.join("").split("\n").slice(-20).join("\n")}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
// the echo server and any socket left open would keep the process alive
process.exit(process.exitCode ?? 0);
