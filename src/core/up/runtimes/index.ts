import type { Deps } from "../../../cli/deps.ts";
import type { NodeRuntime } from "./types.ts";

/**
 * The non-host runtimes `devx up` can use, built lazily from deps (nothing is constructed until a
 * node of that kind starts).
 */
export function upRuntimes(_deps: Deps): Partial<Record<"container" | "database" | "bridge", NodeRuntime>> {
  return {};
}
