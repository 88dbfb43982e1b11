import { readdirSync, readFileSync } from "node:fs";
import type { Exec } from "./exec.ts";

/**
 * Process identity beyond the PID, which the kernel hands out again once a process is gone: its
 * start time, its process group, and (Linux) a marker in its environment. Cleanup after a crashed
 * run signals a recorded process only when these still match.
 */

/** "pid (comm) S ppid pgrp …": the fields after the last ")". */
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

/**
 * When the process started: /proc/<pid>/stat's starttime (clock ticks since boot) on Linux,
 * `ps -o lstart=` elsewhere; undefined when the process does not exist.
 */
export async function processStartTime(pid: number, exec: Exec): Promise<string | undefined> {
  if (hasProc) return statFields(pid)?.[19];
  const r = await exec.run(["ps", "-o", "lstart=", "-p", String(pid)]).catch(() => undefined);
  const t = r?.code === 0 ? r.stdout.trim() : "";
  return t || undefined;
}

/** The process group of a live process (Linux), else undefined. */
export function processGroupOf(pid: number): number | undefined {
  const g = statFields(pid)?.[2];
  return g === undefined ? undefined : Number(g);
}

/** Live (not zombie) processes whose environment holds `name=value`; empty without /proc. */
export function processesWithEnv(name: string, value: string): number[] {
  if (!hasProc) return [];
  const needle = `\0${name}=${value}\0`;
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (!`\0${readFileSync(`/proc/${pid}/environ`, "latin1")}`.includes(needle)) continue;
    } catch {
      continue; // gone, or not ours to read
    }
    if (statFields(pid)?.[0] !== "Z") out.push(pid);
  }
  return out;
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
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const f = statFields(pid);
    if (f && f[2] === String(pgid) && f[0] !== "Z") return true;
  }
  return false;
}
