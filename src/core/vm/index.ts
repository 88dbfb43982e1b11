/**
 * The VM use-cases the dashboard (tui/) calls: status for the VMs pane (provider, state, CPU/memory,
 * tailnet IP) and the start/stop/sleep actions. Each takes CoreDeps; pass `dryRun: true` in the request for a plan.
 */
export { vmStatus, vmStart, vmStop, vmInit, vmRemove, vmResize, type VmStatus, type PlanResult } from "./lifecycle.ts";

import type { CoreDeps } from "../deps.ts";
import { vmStop } from "./lifecycle.ts";

/** Sleep = the provider's way of freeing CPU and memory while keeping the disk. */
export const vmSleep = (deps: CoreDeps, flags: { provider?: string; name?: string } = {}) => vmStop(deps, { ...flags, sleep: true });
