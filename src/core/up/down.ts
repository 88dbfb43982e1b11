import type { CoreDeps } from "../deps.ts";
import { pidAlive } from "../../platform/atomic.ts";
import { describeOrphans, findOrphans, orphanDeps, stopOrphans } from "./orphans.ts";
import { control, projectName, readUpSession, removeUpSession } from "./session.ts";

/**
 * Stops a running up (foreground in another terminal, or the --detach supervisor) through its
 * control channel and waits until its process is gone: the supervisor itself stops every node in
 * reverse dependency order before it exits. A supervisor that died without stopping its nodes
 * leaves orphans: they are stopped from its record (see orphans.ts).
 */
export async function downUp(deps: CoreDeps, req: { dryRun: boolean }): Promise<{ project: string; running: boolean; pid?: number; ms?: number; staleRemoved?: boolean; leftovers?: string[] }> {
  const loaded = await deps.config();
  const project = projectName(loaded);
  const rec = await readUpSession(deps, loaded);
  if (!rec) return { project, running: false };
  if (rec.stale) {
    const od = orphanDeps(deps, loaded);
    const found = await findOrphans(od, rec.data);
    if (!req.dryRun) {
      await stopOrphans(od, found);
      await removeUpSession(deps.paths.state, project);
    }
    return { project, running: false, staleRemoved: !req.dryRun, leftovers: describeOrphans(found) };
  }
  if (req.dryRun) return { project, running: true, pid: rec.pid };
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
