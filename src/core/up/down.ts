import type { Deps } from "../../cli/deps.ts";
import { pidAlive } from "../../platform/atomic.ts";
import { control, projectName, readUpSession, removeUpSession, type UpSessionData } from "./session.ts";

/**
 * Stops a running up (foreground in another terminal, or the --detach supervisor) through its
 * control channel and waits until its process is gone: the supervisor itself stops every node in
 * reverse dependency order before it exits.
 */
export async function downUp(deps: Deps): Promise<{ project: string; running: boolean; pid?: number; ms?: number; staleRemoved?: boolean; leftovers?: string[] }> {
  const loaded = await deps.config();
  const project = projectName(loaded);
  const rec = await readUpSession(deps, loaded);
  if (!rec) return { project, running: false };
  if (rec.stale) {
    const leftovers = await cleanupAfterDeadSupervisor(deps, rec.data);
    await removeUpSession(deps.paths.state, project);
    return { project, running: false, staleRemoved: true, leftovers };
  }
  const t0 = performance.now();
  try {
    await control(rec.data, "POST", "/down", 10_000);
  } catch {
    // The channel is gone but the process lives: ask it the classic way.
    process.kill(rec.pid, "SIGTERM");
  }
  // Done when the supervisor removed its record (it does so after every node stopped) or died.
  while (pidAlive(rec.pid) && (await readUpSession(deps, loaded))?.pid === rec.pid) await deps.clock.sleep(20);
  // ...and give a detached supervisor the moment it needs to exit after that.
  const until = Date.now() + 5000;
  while (rec.pid !== process.pid && pidAlive(rec.pid) && Date.now() < until) await deps.clock.sleep(20);
  await removeUpSession(deps.paths.state, project);
  return { project, running: true, pid: rec.pid, ms: Math.round(performance.now() - t0) };
}

/**
 * A supervisor that died without stopping its nodes (SIGKILL, OOM) leaves their process groups and
 * containers behind: stop what its record lists (SIGTERM, SIGKILL after 5 s; containers removed).
 */
async function cleanupAfterDeadSupervisor(deps: Deps, data: UpSessionData): Promise<string[]> {
  const left: string[] = [];
  const groupAlive = (g: number) => {
    try {
      process.kill(-g, 0);
      return true;
    } catch {
      return false;
    }
  };
  const groups = (data.hostGroups ?? []).filter(groupAlive);
  for (const g of groups) {
    left.push(`process group ${g}`);
    process.kill(-g, "SIGTERM");
  }
  const deadline = Date.now() + 5000;
  while (groups.some(groupAlive) && Date.now() < deadline) await deps.clock.sleep(20);
  for (const g of groups.filter(groupAlive)) process.kill(-g, "SIGKILL");
  if (data.containers?.length) {
    const { detectRuntime } = await import("../../../providers/runtime/index.ts");
    const rt = detectRuntime({ exec: deps.exec, env: deps.env, paths: deps.paths });
    for (const c of data.containers) {
      if (!(await rt.inspectContainer(c).catch(() => undefined))) continue;
      left.push(`container ${c}`);
      await rt.remove(c, { force: true }).catch(() => {});
    }
  }
  return left;
}
