import { randomBytes } from "node:crypto";
import { formatBytes, plural } from "../../events/format.ts";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { NotFoundError } from "../../errors.ts";
import { generatePassphrase } from "./bundle/passphrase.ts";
import { formatShareId, newObjectName, parseShareId } from "./bundle/share-id.ts";
import { downloadBundle, uploadBundle } from "./bundle-io.ts";
import { captureSnapshot } from "./capture.ts";
import type { Allowance } from "./guard/allow.ts";
import { journaledCapture, settleInterrupted } from "./recover.ts";
import { dirs, type StateDeps } from "./state-deps.ts";
import type { Manifest, Mode } from "./manifest.ts";
import { restoreFromDir, type RestoreResult } from "./restore.ts";
import { selectBoth } from "./select.ts";
import { chooseMode, databaseVolumes } from "./mode.ts";
import { rememberShare } from "./recent.ts";

export interface ShareOptions {
  relay: string;
  dbOnly?: boolean;
  words?: number;
  /** gzip level (state.compression_level); 1 by default: the network, not the ratio, is the limit */
  level?: number;
  /** PBKDF2 iterations: tests and benchmarks only */
  iterations?: number;
}

/** What `share --json` prints. The id embeds the passphrase: it is shown once, to the user who asked. */
export interface ShareResult {
  id: string;
  relay: string;
  object: string;
  mode: Mode;
  containers: string[];
  databases: string[];
  volumes: string[];
  bytes: number;
}

/** checkpoint → bundle → encrypt → upload; returns the share ID. */
export async function share(sd: StateDeps, opts: ShareOptions): Promise<ShareResult> {
  await settleInterrupted(sd, { dryRun: false });
  const [mode, both] = await Promise.all([chooseMode(sd, opts.dbOnly, "sharing"), selectBoth(sd)]);
  const sel = both[mode];
  if (sel.containers.length + sel.stopOnly.length + sel.volumes.length === 0) {
    throw new NotFoundError(`nothing to share: no running devx-managed containers or ${mode === "db-only" ? "database " : ""}volumes${sd.project ? ` in project ${sd.project}` : ""}`, "start the environment (`devx up`), then share");
  }
  const relay = await sd.openRelay(opts.relay);
  const object = newObjectName();
  const passphrase = generatePassphrase(opts.words ?? 4);
  const staging = join(dirs(sd.stateDir).tmp, `share-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    const m = await journaledCapture(sd, { op: "share", source: `share ${object}`, scratch: staging }, (beforeStop) => captureSnapshot(sd, sel, { dir: staging, kind: "share", name: object, beforeStop }));
    await sd.fault?.("upload");
    sd.emit({ type: "step", id: "upload", title: `upload to ${relay.uri}`, status: "started" });
    const bytes = await uploadBundle(sd, relay, object, staging, m, { passphrase, level: opts.level ?? 1, iterations: opts.iterations });
    sd.emit({ type: "step", id: "upload", title: `upload to ${relay.uri}`, status: "done", detail: formatBytes(bytes) });
    const result: ShareResult = {
      id: formatShareId({ relay: relay.uri, object, passphrase }),
      relay: relay.uri,
      object,
      mode,
      containers: m.containers.filter((c) => c.archive).map((c) => c.name),
      databases: databaseVolumes(m),
      volumes: m.volumes.map((v) => v.name),
      bytes,
    };
    await rememberShare(sd, { relay: relay.uri, object, created: m.created, mode, containers: result.containers, volumes: result.volumes, bytes });
    return result;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

export interface AttachOptions {
  shareId: string;
  dbOnly?: boolean;
  /** what the bundle may do beyond its own containers and volumes (guard/allow.ts) */
  allow?: Set<Allowance>;
  dryRun: boolean;
  confirm(question: string): Promise<void>;
}

/**
 * download → decrypt → verify → validate (all into a staging dir; nothing else touched) → plan →
 * confirm → restore point → apply → verify; any failure rolls back.
 */
export async function attach(sd: StateDeps, opts: AttachOptions): Promise<RestoreResult & { manifest: Manifest; mode: Mode }> {
  const id = parseShareId(opts.shareId);
  await settleInterrupted(sd, opts);
  const relay = await sd.openRelay(id.relay);
  const staging = join(dirs(sd.stateDir).tmp, `attach-${process.pid}-${randomBytes(4).toString("hex")}`);
  // the CRIU probe (remembered by the runtime) runs while the bundle downloads, off the critical path
  sd.runtime.checkpointer?.supportsCheckpoint().catch(() => {});
  try {
    sd.emit({ type: "step", id: "download", title: `download ${id.object} from ${relay.uri}`, status: "started" });
    const { manifest, setuid } = await downloadBundle(sd, relay, id.object, staging, id.passphrase);
    sd.emit({ type: "step", id: "download", title: `download ${id.object} from ${relay.uri}`, status: "done", detail: `verified: ${plural(manifest.containers.length, "container")}, ${plural(manifest.volumes.length, "volume")}, from ${manifest.host.os}/${manifest.host.arch}` });
    let mode: Mode = manifest.mode;
    if (mode === "full") {
      if (opts.dbOnly) mode = "db-only";
      else {
        const probe = sd.runtime.checkpointer ? await sd.runtime.checkpointer.supportsCheckpoint() : { ok: false, reason: `${sd.runtime.displayName} cannot restore checkpoints` };
        if (!probe.ok) {
          sd.emit({ type: "warning", message: `this bundle holds container checkpoints, but this machine cannot restore them: ${probe.reason}`, hint: "only its database volumes can be applied here" });
          if (!opts.dryRun) await opts.confirm("Apply the database volumes only?");
          mode = "db-only";
        }
      }
    }
    const r = await restoreFromDir(sd, { dir: staging, manifest, mode, source: `bundle ${id.object}`, op: "attach", dryRun: opts.dryRun, confirm: opts.confirm, bundle: { allow: opts.allow ?? new Set(), setuid, scratch: staging } });
    return { ...r, manifest, mode };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
