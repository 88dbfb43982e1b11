import { LABEL } from "../labels.ts";
import type { StateDeps } from "./state-deps.ts";
import type { Manifest, Mode } from "./manifest.ts";

/** Full when this host can checkpoint, else db-only with the reason as a warning. */
export async function chooseMode(sd: StateDeps, dbOnly: boolean | undefined, verb: string): Promise<Mode> {
  if (dbOnly) return "db-only";
  const probe = sd.runtime.checkpointer ? await sd.runtime.checkpointer.supportsCheckpoint() : { ok: false, reason: `${sd.runtime.displayName} cannot checkpoint containers` };
  if (probe.ok) return "full";
  sd.emit({ type: "warning", message: `${verb} database volumes only (db-only): ${probe.reason}`, hint: "running containers' memory is not included; use podman as root with a working `criu check` for full snapshots" });
  return "db-only";
}

export function databaseVolumes(m: Manifest): string[] {
  if (m.mode === "db-only") return m.volumes.map((v) => v.name);
  const mountedByDb = new Set(m.containers.filter((c) => c.labels[LABEL.kind] === "database").flatMap((c) => c.volumes.map((v) => v.name)));
  return m.volumes.filter((v) => v.labels[LABEL.kind] === "database" || mountedByDb.has(v.name)).map((v) => v.name);
}
