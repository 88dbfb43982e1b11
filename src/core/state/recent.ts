import { readJson, writeFileAtomic } from "../../platform/atomic.ts";
import { dirs, type StateDeps } from "./state-deps.ts";
import type { Mode } from "./manifest.ts";

/** A share as remembered locally (for the dashboard): never the passphrase. */
export interface RecentShare {
  relay: string;
  object: string;
  created: string;
  mode: Mode;
  containers: string[];
  volumes: string[];
  bytes: number;
}

/** Remembered newest first, the last 50. */
export async function rememberShare(sd: StateDeps, s: RecentShare): Promise<void> {
  const file = dirs(sd.stateDir).shares;
  const list = (await readJson<RecentShare[]>(file).catch(() => undefined)) ?? [];
  await writeFileAtomic(file, JSON.stringify([s, ...list].slice(0, 50), null, 2) + "\n");
}

export async function recentShares(stateDir: string): Promise<RecentShare[]> {
  return (await readJson<RecentShare[]>(dirs(stateDir).shares).catch(() => undefined)) ?? [];
}
