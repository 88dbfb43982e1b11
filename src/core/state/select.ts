import type { ContainerInfo, VolumeInfo } from "../../../providers/runtime/types.ts";
import { LABEL } from "../labels.ts";
import { scopeLabels, type StateDeps } from "./state-deps.ts";
import type { Mode } from "./manifest.ts";

/** What a snapshot covers. */
export interface Selection {
  mode: Mode;
  /** containers to checkpoint (full mode only) */
  containers: ContainerInfo[];
  /** running containers to stop while the volumes are exported, and start again */
  stopOnly: ContainerInfo[];
  volumes: VolumeInfo[];
}

const isDatabase = (labels: Record<string, string>) => labels[LABEL.kind] === "database";

/**
 * Full: every running devx-managed container of the project, every managed volume and every
 * volume those containers mount. db-only: database volumes (labelled devx.kind=database, or
 * mounted by a database container) and the running containers that mount them.
 */
export async function selectForSnapshot(sd: StateDeps, mode: Mode): Promise<Selection> {
  return pick(await listScope(sd), mode);
}

/** Both selections from one listing (the caller learns the mode from a probe run alongside). */
export async function selectBoth(sd: StateDeps): Promise<Record<Mode, Selection>> {
  const scope = await listScope(sd);
  return { full: pick(scope, "full"), "db-only": pick(scope, "db-only") };
}

interface Scope {
  running: ContainerInfo[];
  managedVolumes: VolumeInfo[];
  byName: Map<string, VolumeInfo>;
}

async function listScope(sd: StateDeps): Promise<Scope> {
  const rt = sd.runtime;
  const [running, managedVolumes] = await Promise.all([rt.listContainers({ labels: scopeLabels(sd) }), rt.listVolumes({ labels: scopeLabels(sd) })]);
  const byName = new Map(managedVolumes.map((v) => [v.name, v]));
  const mounted = running.flatMap((c) => c.volumes.map((v) => v.name)).filter((n) => !byName.has(n));
  if (mounted.length > 0) {
    // volumes a managed container mounts but that carry no devx labels are still its state
    for (const v of await rt.listVolumes()) if (mounted.includes(v.name)) byName.set(v.name, v);
  }
  return { running, managedVolumes, byName };
}

function pick({ running, managedVolumes, byName }: Scope, mode: Mode): Selection {
  if (mode === "full") return { mode, containers: running, stopOnly: [], volumes: [...byName.values()].sort((a, b) => a.name.localeCompare(b.name)) };
  const dbVolumeNames = new Set([...managedVolumes.filter((v) => isDatabase(v.labels)).map((v) => v.name), ...running.filter((c) => isDatabase(c.labels)).flatMap((c) => c.volumes.map((v) => v.name))]);
  const volumes = [...dbVolumeNames].map((n) => byName.get(n)).filter((v): v is VolumeInfo => v !== undefined).sort((a, b) => a.name.localeCompare(b.name));
  return { mode, containers: [], stopOnly: running.filter((c) => c.volumes.some((v) => dbVolumeNames.has(v.name))), volumes };
}
