import { lstatSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { IntegrityError, ProviderError } from "../../errors.ts";
import { devxLabels, LABEL, type DevxKind } from "../labels.ts";
import type { Plan } from "./apply.ts";
import type { StateDeps } from "./state-deps.ts";
import type { Allowance, Elevation } from "./guard/allow.ts";
import { inspectCheckpointArchive, writeRestorableArchive, type CheckpointFindings } from "./guard/checkpoint-archive.ts";
import type { ContainerEntry, Manifest, VolumeEntry } from "./manifest.ts";

/**
 * What attach checks of a bundle beyond its integrity, between the download and the plan: each
 * checkpoint archive is inspected (guard/checkpoint-archive.ts) against the image it will be
 * restored onto, must describe the container the manifest names (name, image, build, volumes),
 * and what it asks for beyond its own container joins the plan as elevations — refused unless the
 * user allowed each by name. Labels on what the attach creates are devx's, never the bundle's.
 */
export type BundleFindings = Map<string, CheckpointFindings>;

export async function inspectBundleCheckpoints(sd: StateDeps, dir: string, m: Manifest, plan: Plan, bundle: { allow: Set<Allowance>; setuid: Record<string, { paths: string[]; count: number }> }): Promise<BundleFindings> {
  const ck = sd.runtime.checkpointer;
  const findings: BundleFindings = new Map();
  const elevations: Elevation[] = [];
  const volumeNames = new Set(m.volumes.map((v) => v.name));
  for (const c of m.containers) {
    if (!c.archive) continue;
    if (!ck?.withImageRoot) throw new ProviderError(`${sd.runtime.displayName} cannot show devx the image ${c.image}, so the checkpoint of ${c.name} cannot be checked`, "attach with --db-only");
    const file = join(dir, c.archive.file);
    const f = await ck.withImageRoot(c.image, (root) => inspectCheckpointArchive(file, { subject: c.name, symlinkInImage: (p) => isSymlink(join(root, p)) }));
    if (f.name !== c.name) throw new IntegrityError(`the checkpoint listed as ${c.name} is of a container named ${f.name || "(none)"}`, "the bundle does not match its manifest: ask for a new share");
    if (f.image !== c.image) throw new IntegrityError(`the checkpoint of ${c.name} is of image ${f.image || "(none)"}, and the manifest says ${c.image}`, "the bundle does not match its manifest: ask for a new share");
    for (const v of f.namedVolumes) if (!volumeNames.has(v.name)) throw new IntegrityError(`the checkpoint of ${c.name} mounts volume ${v.name}, which the bundle does not carry`, "ask for a new share (volumes travel with their containers)");
    const here = await ck.imageId?.(c.image);
    if (f.imageId && here && !sameImage(f.imageId, here)) throw new ProviderError(`image ${c.image} here (${here.slice(0, 12)}) is another build than the one ${c.name} was checkpointed on (${f.imageId.slice(0, 12)})`, `a checkpoint restores only onto the same image: pull or build that exact ${c.image}, or attach with --db-only`);
    elevations.push(...f.elevations);
    if (f.setuidCount > 0) elevations.push({ allow: "setuid", subject: c.name, detail: `${files(f.setuidCount)} in its filesystem: ${f.setuid.slice(0, 3).join(", ")}` });
    const r = plan.restore.find((x) => x.name === c.name);
    if (r) r.ports = f.ports.map((p) => `${p.hostIp}:${p.hostPort}->${p.containerPort}/${p.protocol}`);
    findings.set(c.name, f);
  }
  for (const [name, s] of Object.entries(bundle.setuid)) {
    if (volumeNames.has(name)) elevations.push({ allow: "setuid", subject: `volume ${name}`, detail: `${files(s.count)}: ${s.paths.slice(0, 3).join(", ")}` });
  }
  plan.elevations = elevations;
  plan.refused = elevations.filter((e) => !bundle.allow.has(e.allow));
  return findings;
}

const files = (n: number) => `${n} setuid/setgid file${n === 1 ? "" : "s"}`;
const sameImage = (a: string, b: string) => a.replace(/^sha256:/, "") === b.replace(/^sha256:/, "");

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

const KINDS = new Set<DevxKind>(["database", "service"]);
const LABEL_VALUE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/**
 * devx's labels for something a bundle brings: this project, and of the bundle's own devx labels
 * only the kind (database or service), engine and service name, when they are plain names.
 */
function labelsFrom(project: string, theirs: Record<string, string>): Record<string, string> {
  const kind = KINDS.has(theirs[LABEL.kind] as DevxKind) ? (theirs[LABEL.kind] as DevxKind) : "service";
  const extra: Record<string, string> = {};
  for (const k of [LABEL.engine, LABEL.service]) if (LABEL_VALUE.test(theirs[k] ?? "")) extra[k] = theirs[k]!;
  return devxLabels(project, kind, extra);
}

export const volumeLabels = (project: string, v: VolumeEntry) => labelsFrom(project, v.labels);

/** Restore one container of a bundle: from a copy of its archive that devx rewrote, under the manifest's name. */
export async function restoreRewritten(sd: StateDeps, o: { dir: string; project: string; entry: ContainerEntry; archive: string; keepBinds: boolean; findings: CheckpointFindings }): Promise<void> {
  const ck = sd.runtime.checkpointer!;
  const here = new Map((await sd.runtime.listVolumes()).map((v) => [v.name, v.mountpoint]));
  const volumeSources = new Map<string, string>();
  for (const v of o.findings.namedVolumes) {
    const mp = here.get(v.name);
    if (!mp) throw new ProviderError(`volume ${v.name} (for ${o.entry.name}) is not on this machine`, "run the attach again");
    volumeSources.set(v.name, mp);
  }
  const out = join(o.dir, `restorable-${o.entry.name}.tar`);
  try {
    await writeRestorableArchive(o.archive, join(o.dir, `restorable-${o.entry.name}`), out, { name: o.entry.name, labels: labelsFrom(o.project, o.entry.labels), volumeSources, keepBinds: o.keepBinds });
    await (ck.restoreFromFile ? ck.restoreFromFile(out, { name: o.entry.name }) : Promise.reject(new ProviderError(`${sd.runtime.displayName} cannot restore from a file`, "attach with --db-only")));
  } finally {
    await rm(out, { force: true });
  }
}
