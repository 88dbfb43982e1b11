import { readdir, readFile } from "node:fs/promises";
import { abortableExec } from "../db/db-context.ts";
import { formatBytes } from "../../events/format.ts";
import { detectRuntime, type RuntimeDeps } from "../../../providers/runtime/index.ts";

/** CPU (percent of one CPU) and resident memory of something the dashboard lists. */
export interface Usage {
  cpuPercent?: number;
  memBytes?: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ on every Linux devx runs on
const PAGE = 4096;

interface Sample {
  at: number;
  ticks: number;
}

/**
 * CPU and memory of `devx up`'s host nodes, each a process group (the node's shell and what it
 * started). Read from /proc: CPU is the ticks used between two samples (the first sample has
 * memory only), memory the groups' resident pages. Hosts without /proc report nothing.
 */
export class ProcessGroupSampler {
  private last = new Map<number, Sample>();
  constructor(private readonly proc = "/proc", private readonly now = () => performance.now()) {}

  async sample(groups: number[]): Promise<Map<number, Usage>> {
    const out = new Map<number, Usage>();
    if (groups.length === 0) return out;
    const wanted = new Set(groups);
    const totals = new Map<number, { ticks: number; pages: number }>();
    const pids = (await readdir(this.proc).catch(() => [] as string[])).filter((d) => /^\d+$/.test(d));
    await Promise.all(
      pids.map(async (pid) => {
        const stat = await readFile(`${this.proc}/${pid}/stat`, "utf8").catch(() => "");
        // the command name (field 2) may hold spaces and parentheses: fields start after the last ")"
        const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const pgrp = Number(f[2]);
        if (!wanted.has(pgrp)) return;
        const t = totals.get(pgrp) ?? { ticks: 0, pages: 0 };
        t.ticks += Number(f[11]) + Number(f[12]);
        t.pages += Number(f[21]);
        totals.set(pgrp, t);
      }),
    );
    const at = this.now();
    for (const g of groups) {
      const t = totals.get(g);
      if (!t) continue;
      const prev = this.last.get(g);
      const seconds = prev ? (at - prev.at) / 1000 : 0;
      out.set(g, { memBytes: t.pages * PAGE, cpuPercent: prev && seconds > 0 ? Math.max(0, ((t.ticks - prev.ticks) / TICKS_PER_SECOND / seconds) * 100) : undefined });
      this.last.set(g, { at, ticks: t.ticks });
    }
    for (const g of this.last.keys()) if (!wanted.has(g)) this.last.delete(g);
    return out;
  }
}

/**
 * CPU and memory of running containers by name, through the runtime's `stats` where it has one.
 * A runtime without it, or one that fails, reports nothing: the columns stay empty.
 */
export async function containerUsage(deps: RuntimeDeps, names: string[], opts: { preferred?: string; signal?: AbortSignal } = {}): Promise<Map<string, Usage>> {
  const out = new Map<string, Usage>();
  if (names.length === 0) return out;
  try {
    const exec = opts.signal ? abortableExec(deps.exec, opts.signal) : deps.exec;
    const runtime = detectRuntime({ ...deps, exec }, opts.preferred);
    for (const u of (await runtime.usage?.(names)) ?? []) out.set(u.name, { cpuPercent: u.cpuPercent, memBytes: u.memBytes });
  } catch {
    // usage is extra: a listing without it is still right
  }
  return out;
}

/** "12.3%" / "64.0 MiB" cells, and the numbers to sort them by (only those known). */
export function usageCells(u: Usage | undefined): { cells: { cpu: string; mem: string }; sort: Record<string, number> } {
  const sort: Record<string, number> = {};
  if (u?.cpuPercent !== undefined) sort.cpu = u.cpuPercent;
  if (u?.memBytes !== undefined) sort.mem = u.memBytes;
  return { cells: { cpu: u?.cpuPercent === undefined ? "" : `${u.cpuPercent.toFixed(1)}%`, mem: u?.memBytes === undefined ? "" : formatBytes(u.memBytes) }, sort };
}
