import { readdirSync, readFileSync } from "node:fs";
import { pidAlive } from "./atomic.ts";

/**
 * A process's identity beyond its PID: PIDs are reused, so a record that outlives its owner (a
 * journal, a lock) also keeps the owner's start time, and "is the owner alive?" asks for the same
 * PID *and* the same start. Linux: field 22 of /proc/<pid>/stat (clock ticks since boot), prefixed
 * with the boot ID so a reboot never matches. Elsewhere (no procfs) the PID alone is all there is.
 */
export function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "pid (comm) S ppid …": comm may hold spaces and parentheses; fields restart after the last ")"
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const start = fields[19];
    if (!start) return undefined;
    return `${bootId() ?? "?"}:${start}`;
  } catch {
    return undefined;
  }
}

let boot: string | undefined;
function bootId(): string | undefined {
  try {
    boot ??= readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    /* no procfs */
  }
  return boot;
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

/**
 * PIDs of the processes whose argv `match` accepts (Linux: /proc/<pid>/cmdline; elsewhere none).
 * Used after a crash to find work the dead process started and that must finish before its
 * effects are judged (a `podman container checkpoint` still dumping, say).
 */
export function findProcesses(match: (argv: string[]) => boolean): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const out: number[] = [];
  for (const e of entries) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0").filter(Boolean);
      if (argv.length > 0 && match(argv) && pidAlive(Number(e))) out.push(Number(e));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return out;
}
