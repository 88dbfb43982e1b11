import { closeSync, constants, openSync, readdirSync, readFileSync } from "node:fs";

/**
 * The few OS calls the runner needs that neither Bun nor node:fs offer, through libc (bun:ffi):
 * stopping a PTY's output (tcflow) and hiding the runner's memory from same-user processes
 * (PR_SET_DUMPABLE). Plus /proc scans for process trees. Linux only: the runner runs in a sandbox.
 */

interface Libc {
  tcflow(fd: number, action: number): number;
  prctl(option: number, a: bigint, b: bigint, c: bigint, d: bigint): number;
}

let libc: Libc | null | undefined;

function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { dlopen, FFIType } = require("bun:ffi") as typeof import("bun:ffi");
    for (const name of ["libc.so.6", "libc.so"]) {
      try {
        const lib = dlopen(name, {
          tcflow: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
          prctl: { args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64], returns: FFIType.i32 },
        });
        libc = lib.symbols as unknown as Libc;
        break;
      } catch {
        /* try the next name */
      }
    }
  } catch {
    /* no FFI */
  }
  return libc;
}

const TCOOFF = 0;
const TCOON = 1;
const PR_SET_DUMPABLE = 4;

/** Can the runner pause a PTY's output (backpressure)? */
export function canStopTty(): boolean {
  return loadLibc() !== null;
}

/**
 * Stop or restart output of the terminal whose slave is `ptsPath` (tcflow TCOOFF/TCOON on the
 * slave). While stopped the kernel accepts nothing more from the programs writing to it: they
 * block in write(2), the same flow control a terminal gets from XOFF, but independent of the
 * program's termios (a full-screen program that turned IXON off cannot undo it with ^Q). The slave
 * is opened only for the call, so the runner never keeps a PTY open past its programs' exit.
 */
export function setTtyStopped(ptsPath: string, stopped: boolean): boolean {
  const c = loadLibc();
  if (!c) return false;
  let fd: number;
  try {
    fd = openSync(ptsPath, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
  } catch {
    return false;
  }
  try {
    return c.tcflow(fd, stopped ? TCOOFF : TCOON) === 0;
  } finally {
    closeSync(fd);
  }
}

/** Keep same-user processes (the sandbox's shells) from ptracing the runner or reading its memory. */
export function makeUndumpable(): boolean {
  const c = loadLibc();
  return c !== null && c.prctl(PR_SET_DUMPABLE, 0n, 0n, 0n, 0n) === 0;
}

export interface ProcStat {
  pid: number;
  ppid: number;
  pgrp: number;
  session: number;
  /** controlling terminal device number (0: none) */
  ttyNr: number;
  state: string;
}

export function readStat(pid: number): ProcStat | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    // comm may contain spaces and parentheses: fields restart after the last ")"
    const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
    return { pid, state: f[0]!, ppid: Number(f[1]), pgrp: Number(f[2]), session: Number(f[3]), ttyNr: Number(f[4]) };
  } catch {
    return undefined;
  }
}

/** The /dev/pts path of a process's controlling terminal, from its stat (fd redirections do not matter). */
export function controllingPts(pid: number): string | undefined {
  const st = readStat(pid);
  if (!st || st.ttyNr === 0) return undefined;
  const major = (st.ttyNr >> 8) & 0xfff;
  const minor = (st.ttyNr & 0xff) | ((st.ttyNr >> 12) & 0xfff00);
  // Unix98 PTY slaves use majors 136–143
  if (major < 136 || major > 143) return undefined;
  return `/dev/pts/${(major - 136) * 256 + minor}`;
}

export function listProcesses(): ProcStat[] {
  const out: ProcStat[] = [];
  let names: string[];
  try {
    names = readdirSync("/proc");
  } catch {
    return out;
  }
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    const st = readStat(Number(n));
    if (st) out.push(st);
  }
  return out;
}

/**
 * Everything that belongs to a terminal or command started as a session leader `leader`: its
 * session and process group (background jobs of a shell live in their own groups but keep the
 * session) plus every descendant, even one that started a session of its own. Zombies excluded.
 */
export function processTree(leader: number, procs: ProcStat[] = listProcesses()): Set<number> {
  const tree = new Set<number>();
  for (const p of procs) if (p.state !== "Z" && (p.pid === leader || p.session === leader || p.pgrp === leader)) tree.add(p.pid);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of procs) {
      if (p.state !== "Z" && !tree.has(p.pid) && tree.has(p.ppid)) {
        tree.add(p.pid);
        grew = true;
      }
    }
  }
  tree.delete(process.pid);
  tree.delete(1);
  return tree;
}

function signalAll(pids: Iterable<number>, sig: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      /* already gone */
    }
  }
}

/**
 * End a leader's whole tree: SIGHUP (what closing a terminal sends) and SIGCONT (a stopped job
 * must run to see it), then SIGKILL for whatever is left after `graceMs`. Resolves when none of
 * them is alive (zombies waiting for their parent count as gone).
 */
export async function killTree(leader: number, graceMs: number): Promise<void> {
  const seen = processTree(leader);
  if (seen.size === 0) return;
  signalAll(seen, "SIGHUP");
  signalAll(seen, "SIGCONT");
  const deadline = Date.now() + graceMs;
  const alive = () => {
    const procs = listProcesses();
    const now = processTree(leader, procs);
    // a process seen before keeps being chased even if it left the tree (reparented, setsid)
    for (const p of procs) if (seen.has(p.pid) && p.state !== "Z") now.add(p.pid);
    for (const pid of now) seen.add(pid);
    return now;
  };
  let left = alive();
  while (left.size > 0 && Date.now() < deadline) {
    await Bun.sleep(20);
    left = alive();
  }
  for (let i = 0; left.size > 0 && i < 50; i++) {
    signalAll(left, "SIGKILL");
    await Bun.sleep(20);
    left = alive();
  }
}
