import type { Deps } from "../../cli/deps.ts";
import { pidAlive } from "../../platform/atomic.ts";
import { control, projectName, readUpSession, removeUpSession } from "./session.ts";

/**
 * Stops a running up (foreground in another terminal, or the --detach supervisor) through its
 * control channel and waits until its process is gone: the supervisor itself stops every node in
 * reverse dependency order before it exits.
 */
export async function downUp(deps: Deps): Promise<{ project: string; running: boolean; pid?: number; ms?: number; staleRemoved?: boolean }> {
  const loaded = await deps.config();
  const project = projectName(loaded);
  const rec = await readUpSession(deps, loaded);
  if (!rec) return { project, running: false };
  if (rec.stale) {
    await removeUpSession(deps.paths.state, project);
    return { project, running: false, staleRemoved: true };
  }
  const t0 = performance.now();
  try {
    await control(rec.data, "POST", "/down", 10_000);
  } catch {
    // The channel is gone but the process lives: ask it the classic way.
    process.kill(rec.pid, "SIGTERM");
  }
  while (pidAlive(rec.pid)) await deps.clock.sleep(20);
  await removeUpSession(deps.paths.state, project);
  return { project, running: true, pid: rec.pid, ms: Math.round(performance.now() - t0) };
}
