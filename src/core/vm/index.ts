/**
 * The VM use-cases the dashboard (tui/) calls: status for the VMs pane (provider, state, CPU/memory,
 * tailnet IP) and the start/stop/sleep actions. Each takes Deps; pass `global.dryRun` for a plan.
 */
export { vmStatus, vmStart, vmStop, vmInit, vmRemove, vmResize, type VmStatus, type PlanResult } from "./ops.ts";

import type { Deps } from "../../cli/deps.ts";
import { vmStop } from "./ops.ts";

/** Sleep = the provider's way of freeing CPU and memory while keeping the disk. */
export const vmSleep = (deps: Deps, flags: { provider?: string; name?: string } = {}) => vmStop(deps, { ...flags, sleep: true });
