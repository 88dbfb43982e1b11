import { join } from "node:path";
import type { ContainerRuntime } from "../../../providers/runtime/types.ts";
import type { Relay } from "../../../providers/relay/types.ts";
import type { Emit } from "../../events/types.ts";
import { LABEL } from "../labels.ts";

/**
 * What the state use-cases reach the world through. Built by the CLI (or the TUI) from Deps; a
 * test swaps one field.
 */
export interface StateDeps {
  runtime: ContainerRuntime;
  /** devx's state directory: checkpoints/, db-snapshots/, restore-points/, tmp/ live under it */
  stateDir: string;
  emit: Emit;
  now(): Date;
  /** containers and volumes of this project only (devx.project label); all devx-managed ones when unset */
  project?: string;
  /** SHA-256 of devx.yaml, recorded in manifests */
  configSha256?: string;
  openRelay(uri: string): Promise<Relay>;
  /**
   * Failure injection for tests: called with a step id ("apply:3", "rollback:1"…) before each
   * step that changes something; throwing there makes that step fail.
   */
  fault?(point: string): void | Promise<void>;
  signal?: AbortSignal;
}

export const dirs = (stateDir: string) => ({
  checkpoints: join(stateDir, "checkpoints"),
  dbSnapshots: join(stateDir, "db-snapshots"),
  restorePoints: join(stateDir, "restore-points"),
  tmp: join(stateDir, "tmp"),
  shares: join(stateDir, "shares.json"),
});

/** The label selector for what snapshots cover. */
export function scopeLabels(sd: Pick<StateDeps, "project">): Record<string, string> {
  return sd.project ? { [LABEL.managed]: "true", [LABEL.project]: sd.project } : { [LABEL.managed]: "true" };
}

export const NAME_RE = /^[a-z0-9][a-z0-9._-]{0,62}$/;
