import { openSync, closeSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Deps } from "../../cli/deps.ts";
import { ProviderError, UnhealthyError, DevxError } from "../../errors.ts";
import { pidAlive } from "../../platform/atomic.ts";
import { logDir } from "./logs.ts";
import { loadGraph, runFingerprint } from "./run-up.ts";
import { describeOrphans, findOrphans, orphanDeps, stopOrphans } from "./orphans.ts";
import { selfArgv } from "../../platform/self.ts";
import { control, readUpSession, removeUpSession, type UpSessionData } from "./session.ts";
import type { NodeStatus } from "./supervisor.ts";

export const SUPERVISOR_ENV = "DEVX_UP_SUPERVISOR";

/**
 * `devx up --detach`: re-runs the binary as a supervisor in its own session (its output goes to
 * <logs>/supervisor.log), waits on its control channel until everything is up (or startup failed),
 * and returns. The supervisor keeps running until `devx down`.
 */
export async function detachUp(deps: Deps, services: string[]): Promise<{ pid: number; nodes: NodeStatus[]; already?: boolean }> {
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
  const fd = openSync(join(dir, "supervisor.log"), "a", 0o600);
  const argv = [...selfArgv(), "up", ...services, "-f", loaded.path, ...(loaded.profile ? ["--profile", loaded.profile] : [])];
  const child = deps.exec.spawn(argv, { cwd: loaded.dir, env: { ...deps.env, [SUPERVISOR_ENV]: "1", NO_COLOR: "1" }, stdin: "ignore", stdout: fd, stderr: fd });
  closeSync(fd);
  let exitCode: number | undefined;
  void child.exited.then((c) => (exitCode = c));

  // The supervisor writes its session record (with the control channel) before it starts any node.
  let rec: { data: UpSessionData; pid: number } | undefined;
  for (;;) {
    const r = await readUpSession(deps, loaded);
    if (r && r.pid === child.pid) {
      rec = r;
      break;
    }
    if (exitCode !== undefined || !pidAlive(child.pid)) {
      throw new ProviderError(`the devx up supervisor exited (code ${exitCode ?? "?"}) before it started`, `see ${join(dir, "supervisor.log")}`);
    }
    await deps.clock.sleep(20);
  }
  const ready = await control<{ ok: boolean; error?: { message: string; kind?: string; hint?: string } }>(rec.data, "GET", "/ready", 24 * 3600_000);
  if (!ready.ok) {
    const e = ready.error!;
    // The supervisor tears itself down; wait so nothing is left when we return.
    await child.exited;
    throw e.kind === "unhealthy" || !e.kind ? new UnhealthyError(e.message, e.hint ?? "") : Object.assign(new DevxError(e.message, e.hint ?? ""), { kind: e.kind });
  }
  const st = await control<{ nodes: NodeStatus[] }>(rec.data, "GET", "/status");
  return { pid: child.pid, nodes: st.nodes };
}
