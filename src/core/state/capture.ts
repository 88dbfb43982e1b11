import { createHash } from "node:crypto";
import { formatBytes } from "../../events/format.ts";
import { createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { arch, platform } from "node:os";
import { join } from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { messageOf, ProviderError } from "../../errors.ts";
import { writeFileAtomic } from "../../platform/atomic.ts";
import { gcPace } from "../../platform/gc-pace.ts";
import type { ContainerInfo } from "../../../providers/runtime/types.ts";
import type { StateDeps } from "./state-deps.ts";
import { contentDigester, fileSha256 } from "./digest.ts";
import { MANIFEST_FILE, MANIFEST_VERSION, type ContainerEntry, type Manifest, type VolumeEntry } from "./manifest.ts";
import type { Selection } from "./select.ts";

export interface CaptureOptions {
  dir: string;
  kind: Manifest["kind"];
  name: string;
  /**
   * Leave what was stopped for a consistent capture stopped (a restore point taken right before
   * its containers are replaced). Otherwise everything is running again afterwards.
   */
  leaveStopped?: boolean;
  /**
   * Told, before a container is checkpointed (when that leaves it stopped) or stopped, so a crash
   * journal can record it first: whatever ends devx next, the container is known to need bringing back.
   */
  beforeStop?(name: string, checkpointed: boolean): Promise<void>;
  /** fault points are `${faultPrefix}:checkpoint:<name>` and so on (tests) */
  faultPrefix?: string;
}

/** Counts bytes for progress events without touching them. */
export function progressTap(sd: StateDeps, id: string, title: string, total?: number): Transform {
  let bytes = 0;
  let last = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      gcPace(chunk.length);
      // at most ~1 event per 4 MiB keeps --json output readable
      if (bytes - last >= 4 << 20) {
        last = bytes;
        sd.emit({ type: "progress", id, title, bytes, total });
      }
      cb(null, chunk);
    },
    flush(cb) {
      sd.emit({ type: "progress", id, title, bytes, total: total ?? bytes });
      cb();
    },
  });
}

/**
 * Capture the selection into `dir`: CRIU archives of the containers (full mode), a tar of every
 * volume with its SHA-256 and content digest, and manifest.json written last (its presence marks a
 * complete snapshot).
 *
 * Consistency: a container that mounts volumes is checkpointed *and stopped* so that its memory and
 * its volumes are captured at the same instant; it is restored from the fresh archive once the
 * volumes are exported. A container without volumes keeps running (CRIU pauses it only while
 * dumping). In db-only mode the containers using the volumes are stopped during the export.
 */
export async function captureSnapshot(sd: StateDeps, sel: Selection, opts: CaptureOptions): Promise<Manifest> {
  const rt = sd.runtime;
  const { dir } = opts;
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, "containers"), { recursive: true });
  await mkdir(join(dir, "volumes"), { recursive: true });
  const fault = opts.faultPrefix ?? "capture";
  const containers: ContainerEntry[] = [];
  const volumes: VolumeEntry[] = [];
  /** containers we stopped, with how to bring each back */
  const stopped: Stopped[] = [];
  // recorded in the manifest; fetched while the capture runs
  const versions = Promise.all([rt.version().catch(() => "unknown"), sel.mode === "full" ? rt.checkpointer?.toolVersion?.() : undefined]);
  try {
    for (const c of sel.containers) {
      if (!rt.checkpointer) throw new ProviderError(`${rt.displayName} cannot checkpoint containers`, "use podman (as root, with CRIU) for full snapshots, or --db-only for the database volumes alone");
      const file = `containers/${c.name}.tar.zst`;
      const leaveRunning = c.volumes.length === 0 && !opts.leaveStopped;
      sd.emit({ type: "step", id: `checkpoint:${c.name}`, title: `checkpoint ${c.name}`, status: "started" });
      if (!leaveRunning) await opts.beforeStop?.(c.name, true);
      await sd.fault?.(`${fault}:checkpoint:${c.name}`);
      let written: { sha256: string; size: number };
      try {
        const ck = rt.checkpointer;
        // podman writes its archive itself (faster than through a pipe to us); then one read hashes it
        if (ck.checkpointToFile) written = await ck.checkpointToFile(c.name, join(dir, file), { leaveRunning }).then(() => fileSha256(join(dir, file)));
        else written = await writeHashed(ck.checkpoint(c.name, { leaveRunning }), progressTap(sd, `checkpoint:${c.name}`, `checkpoint ${c.name}`), join(dir, file));
      } catch (e) {
        // a checkpoint that failed after CRIU's dump may have left the container stopped
        if (!leaveRunning) stopped.push({ name: c.name, archive: true, ifStopped: true });
        throw e;
      }
      if (!leaveRunning) stopped.push({ name: c.name, archive: true });
      containers.push({ ...entryOf(c), archive: { file, ...written } });
      sd.emit({ type: "step", id: `checkpoint:${c.name}`, title: `checkpoint ${c.name}`, status: "done", detail: formatBytes(written.size) });
    }
    for (const c of sel.stopOnly) {
      sd.emit({ type: "step", id: `stop:${c.name}`, title: `stop ${c.name}`, status: "started", detail: "for a consistent copy of its volumes" });
      await opts.beforeStop?.(c.name, false);
      await sd.fault?.(`${fault}:stop:${c.name}`);
      await rt.stop(c.name);
      stopped.push({ name: c.name });
      containers.push(entryOf(c));
    }
    for (const v of sel.volumes) {
      await sd.fault?.(`${fault}:volume:${v.name}`);
      const file = `volumes/${v.name}.tar`;
      sd.emit({ type: "step", id: `volume:${v.name}`, title: `export volume ${v.name}`, status: "started" });
      // one pass: the tar goes to disk while its SHA-256 and content digest are computed (reading
      // it back twice cost two more reads of every volume)
      const content = contentDigester();
      const { sha256, size } = await writeHashed(rt.exportVolume(v.name), progressTap(sd, `volume:${v.name}`, `export ${v.name}`), join(dir, file), (c) => content.write(c));
      const contentDigest = await content.finish();
      volumes.push({ name: v.name, labels: v.labels, file, size, sha256, contentDigest });
      sd.emit({ type: "step", id: `volume:${v.name}`, title: `export volume ${v.name}`, status: "done", detail: formatBytes(size) });
    }
  } catch (e) {
    // a failed capture leaves nothing stopped, whatever leaveStopped asked for
    await restart(sd, stopped);
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  await sd.fault?.(`${fault}:captured`);
  if (!opts.leaveStopped) await restart(sd, stopped);
  const manifest: Manifest = {
    formatVersion: MANIFEST_VERSION,
    kind: opts.kind,
    name: opts.name,
    created: sd.now().toISOString(),
    mode: sel.mode,
    host: { os: platform(), arch: arch() },
    runtime: { name: rt.displayName, version: (await versions)[0] },
    criu: (await versions)[1],
    project: sd.project,
    configSha256: sd.configSha256,
    containers,
    volumes,
  };
  await writeFileAtomic(join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + "\n");
  return manifest;
}

/** `src` written to `file` in one pass, with its SHA-256 and size, and `also` fed every chunk on the way. */
async function writeHashed(src: Readable, tap: Transform, file: string, also?: (c: Buffer) => Promise<void>): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  let size = 0;
  const digest = new Transform({
    transform(c: Buffer, _e, cb) {
      hash.update(c);
      size += c.length;
      if (also) also(c).then(() => cb(null, c), cb);
      else cb(null, c);
    },
  });
  await pipeline(src, tap, digest, createWriteStream(file, { mode: 0o600 }));
  return { sha256: hash.digest("hex"), size };
}

function entryOf(c: ContainerInfo): ContainerEntry {
  return { name: c.name, image: c.image, labels: c.labels, ports: c.ports, volumes: c.volumes };
}

/** a container the capture stopped, and how to bring it back */
interface Stopped {
  name: string;
  /** resume from podman's local copy of its checkpoint */
  archive?: boolean;
  /** its checkpoint failed: it may still be running, then it is left alone */
  ifStopped?: boolean;
}

/** Bring back what the capture stopped: restore from the fresh archive, or a plain start. */
async function restart(sd: StateDeps, stopped: Stopped[]): Promise<void> {
  const rt = sd.runtime;
  for (const s of stopped) {
    if (s.ifStopped && (await rt.inspectContainer(s.name).catch(() => undefined))?.state === "running") continue;
    try {
      if (s.archive && rt.checkpointer?.resume) {
        // resumes from podman's own copy of the checkpoint: the container is never removed here
        await rt.checkpointer.resume(s.name);
      } else {
        await rt.start(s.name);
      }
    } catch (e) {
      try {
        await rt.start(s.name);
        sd.emit({ type: "warning", message: `${s.name} was restarted fresh: resuming it from its checkpoint failed (${messageOf(e)})`, hint: "its in-memory state is lost; its volumes are intact" });
      } catch {
        sd.emit({ type: "warning", message: `could not start ${s.name} again after the snapshot: ${messageOf(e)}`, hint: `start it with \`${rt.displayName} start ${s.name}\` or \`devx up\`` });
      }
    }
  }
}
