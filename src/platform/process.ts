import { readdirSync, readFileSync } from "node:fs";
import { pidAlive } from "./atomic.ts";
import type { Exec } from "./exec.ts";

/**
 * Process identity beyond the PID, which the kernel hands out again once a process is gone: its
 * start time, its process group, and (Linux) a marker in its environment or a word in its argv.
 * A record that outlives its owner (a journal, a lock, an `up` session) keeps the owner's start
 * time, and cleanup after a crashed run acts on a recorded process only when these still match.
 */

/** "pid (comm) S ppid pgrp …": the fields after the last ")" (comm may hold spaces and parentheses). */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

const hasProc = (() => {
  try {
    readdirSync("/proc/self");
    return true;
  } catch {
    return false;
  }
})();

let boot: string | undefined;
function bootId(): string | undefined {
  try {
    boot ??= readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    /* no procfs */
  }
  return boot;
}

/**
 * A live process's start, comparable across a reboot: the boot ID and field 22 of
 * /proc/<pid>/stat (clock ticks since boot). Undefined without procfs or when there is no such process.
 */
export function processStart(pid: number): string | undefined {
  const start = statFields(pid)?.[19];
  return start ? `${bootId() ?? "?"}:${start}` : undefined;
}

/**
 * When the process started: processStart on Linux, `ps -o lstart=` elsewhere (1 s resolution);
 * undefined when the process does not exist.
 */
export async function processStartTime(pid: number, exec: Exec): Promise<string | undefined> {
  if (hasProc) return processStart(pid);
  const r = await exec.run(["ps", "-o", "lstart=", "-p", String(pid)]).catch(() => undefined);
  const t = r?.code === 0 ? r.stdout.trim() : "";
  return t || undefined;
}

/** Is the process that was `pid` (and started at `start`, when known) still running? */
export function sameProcessAlive(pid: number, start?: string): boolean {
  if (!pidAlive(pid)) return false;
  if (!start) return true;
  const now = processStart(pid);
  // no procfs now although there was one: treat as alive rather than act on a live owner's work
  return now === undefined || now === start;
}

/** This process's identity, for records it owns. */
export function selfIdentity(): { pid: number; start?: string } {
  return { pid: process.pid, start: processStart(process.pid) };
}

/** The process group of a live process (Linux), else undefined. */
export function processGroupOf(pid: number): number | undefined {
  const g = statFields(pid)?.[2];
  return g === undefined ? undefined : Number(g);
}

/** Every live (not zombie) process but this one whose PID `keep` accepts; empty without /proc. */
function scan(keep: (pid: number) => boolean): number[] {
  if (!hasProc) return [];
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (!keep(pid)) continue;
    } catch {
      continue; // gone, or not ours to read
    }
    if (statFields(pid)?.[0] !== "Z") out.push(pid);
  }
  return out;
}

/** Live processes whose environment holds `name=value`. */
export function processesWithEnv(name: string, value: string): number[] {
  const needle = `\0${name}=${value}\0`;
  return scan((pid) => `\0${readFileSync(`/proc/${pid}/environ`, "latin1")}`.includes(needle));
}

/**
 * Live processes whose argv `match` accepts. Used after a crash to find work the dead process
 * started and that must finish before its effects are judged (a `podman container checkpoint`
 * still dumping, say).
 */
export function findProcesses(match: (argv: string[]) => boolean): number[] {
  return scan((pid) => {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    return argv.length > 0 && match(argv);
  });
}

/** Live (not zombie) members of a process group: a /proc scan on Linux, a signal probe elsewhere. */
export function groupAlive(pgid: number): boolean {
  if (!hasProc) {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  }
  return scan((pid) => statFields(pid)?.[2] === String(pgid)).length > 0;
}
