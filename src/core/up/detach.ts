import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { CoreDeps } from "../deps.ts";
import { errorFromKind } from "../../errors.ts";
import { logDir } from "./logs.ts";
import { loadGraph, runFingerprint } from "./run-up.ts";
import { describeOrphans, findOrphans, orphanDeps, stopOrphans } from "./orphans.ts";
import { spawnSelf } from "../../platform/spawn-self.ts";
import { control, readUpSession, removeUpSession, type UpSessionData } from "./session.ts";
import type { NodeStatus } from "./supervisor.ts";

export const SUPERVISOR_ENV = "DEVX_UP_SUPERVISOR";

/**
 * `devx up --detach`: re-runs the binary as a supervisor in its own session (its output goes to
 * <logs>/supervisor.log), waits on its control channel until everything is up (or startup failed),
 * and returns. The supervisor keeps running until `devx down`.
 */
export async function detachUp(deps: CoreDeps, services: string[]): Promise<{ pid: number; nodes: NodeStatus[]; already?: boolean }> {
  const { loaded, project } = await loadGraph(deps, services);
  const existing = await readUpSession(deps, loaded);
  if (existing && !existing.stale) {
    // like `docker compose up -d`: the same config already running is success, nothing to do
    if (existing.data.configHash === runFingerprint(loaded, services)) {
      const st = await control<{ nodes: NodeStatus[] }>(existing.data, "GET", "/status");
      return { pid: existing.pid, nodes: st.nodes, already: true };
    }
    const { ConflictError } = await import("../../errors.ts");
    throw new ConflictError(
      `devx up is already running for ${project} (pid ${existing.pid}) with a different devx.yaml, profile or selection`,
      "stop it with `devx down`, then `devx up -d` again; `devx ps` shows what runs",
    );
  }
  if (existing?.stale) {
    const od = orphanDeps(deps, loaded);
    const found = await findOrphans(od, existing.data);
    await stopOrphans(od, found);
    await removeUpSession(deps.paths.state, project);
    const left = describeOrphans(found);
    if (left.length) deps.emit({ type: "warning", message: `stopped what a crashed devx up of ${project} left running: ${left.join(", ")}` });
  }
  const dir = logDir(deps.paths.state, project);
  mkdirSync(dir, { recursive: true });
  // The supervisor writes its session record (with the control channel) before it starts any node.
  const { pid, ready: rec, exited } = await spawnSelf<{ data: UpSessionData; pid: number }>(deps.exec, deps.clock, {
    args: ["up", ...services, "-f", loaded.path, ...(loaded.profile ? ["--profile", loaded.profile] : [])],
    cwd: loaded.dir,
    env: { ...deps.env, [SUPERVISOR_ENV]: "1", NO_COLOR: "1" },
    log: join(dir, "supervisor.log"),
    what: "the devx up supervisor",
    readyWhen: async (child) => {
      const r = await readUpSession(deps, loaded);
      return r && r.pid === child ? r : undefined;
    },
  });
  const ready = await control<{ ok: boolean; error?: { message: string; kind?: string; hint?: string } }>(rec.data, "GET", "/ready", 24 * 3600_000);
  if (!ready.ok) {
    const e = ready.error!;
    // The supervisor tears itself down; wait so nothing is left when we return.
    await exited;
    throw errorFromKind(e.kind, e.message, e.hint ?? "", "unhealthy");
  }
  const st = await control<{ nodes: NodeStatus[] }>(rec.data, "GET", "/status");
  return { pid, nodes: st.nodes };
}
