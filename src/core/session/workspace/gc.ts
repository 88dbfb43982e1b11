/**
 * gcWorkspace: keep the newest `keep` manifests of a prefix and the blobs they reference; delete
 * the rest. Manifests go first (oldest first), then unreferenced blobs, so an interrupted gc never
 * leaves a kept manifest naming a deleted blob. Must not run concurrently with a push of the same
 * prefix (the controller serialises them): a push may reuse a blob gc is deleting. `graceMs` also
 * spares blobs younger than that, which covers a push still uploading.
 */
import { UsageError } from "../../../errors.ts";
import type { Relay } from "../../../../providers/relay/types.ts";
import { blobName, blobPrefix, checkPrefix, expandKey, manifestName, packName, packPrefix } from "./format.ts";
import { loadManifest, manifestSeqs } from "./io.ts";

export interface GcResult {
  kept: number[];
  deletedManifests: number;
  /** blobs and packs deleted */
  deletedBlobs: number;
}

export async function gcWorkspace(relay: Relay, prefix: string, keep = 3, opts: { key?: Buffer; graceMs?: number; now?: Date } = {}): Promise<GcResult> {
  checkPrefix(prefix);
  if (!Number.isInteger(keep) || keep < 1) throw new UsageError(`gcWorkspace: keep must be a whole number ≥ 1, got ${keep}`, "keep at least the latest manifest");
  const key = expandKey(opts.key);
  const objects = await relay.list();
  const byName = new Map(objects.map((o) => [o.object, o]));
  const seqs = manifestSeqs(prefix, new Map(objects.map((o) => [o.object, o.size])));
  const kept = seqs.slice(-keep);
  const referenced = new Set<string>();
  for (const s of kept) {
    const m = await loadManifest(relay, prefix, s, key);
    for (const e of m.entries) if (e.kind === "file" && e.pack === undefined) referenced.add(blobName(prefix, e.sha256, key));
    for (const id of Object.keys(m.packs)) referenced.add(packName(prefix, id));
  }
  const old = seqs.slice(0, Math.max(0, seqs.length - keep));
  for (const s of old) await relay.delete(manifestName(prefix, s));
  const cutoff = (opts.now ?? new Date()).getTime() - (opts.graceMs ?? 15 * 60_000);
  let deletedBlobs = 0;
  const bp = blobPrefix(prefix);
  const pp = packPrefix(prefix);
  for (const [name, o] of byName) {
    if (!(name.startsWith(bp) || name.startsWith(pp)) || referenced.has(name) || o.modified.getTime() > cutoff) continue;
    await relay.delete(name);
    deletedBlobs++;
  }
  return { kept, deletedManifests: old.length, deletedBlobs };
}
