import { portFree } from "../../platform/ports.ts";
import { sleepUnlessAborted } from "../../platform/clock.ts";
import { CancelledError, ConflictError, NotFoundError, UnhealthyError, UsageError } from "../../errors.ts";
import { devxLabels, LABEL } from "../labels.ts";
import type { DatabaseConfig } from "../../config/schema.ts";
import type { DbContext } from "./db-context.ts";
import { loadOrCreateCredentials, removeCredentials } from "./credentials.ts";
import { runImage } from "../run-image.ts";
import { ENGINE_SPECS, type Credentials, type Engine, type EngineSpec } from "./engines.ts";
import { toDbInfo, type DbInfo } from "./db-info.ts";

import { DB_LABEL } from "./db-info.ts";
export { DB_LABEL };

export interface SpawnRequest {
  engine?: Engine;
  name?: string;
  image?: string;
  /** host port; busy → ConflictError when `portExplicit`, else the next free port (said aloud) */
  port?: number;
  portExplicit?: boolean;
  /** how long to wait for the engine's readiness probes (default 120 s: first init of mysql is slow) */
  timeoutMs?: number;
}

export interface ResolvedDb {
  name: string;
  engine: Engine;
  spec: EngineSpec;
  image: string;
  port: number;
  portExplicit: boolean;
  container: string;
  volume: string;
  env: Record<string, string>;
}

export const containerName = (project: string, name: string) => `devx-${project}-${name}`;

/** The devx.yaml entry a request refers to: by name, else the first entry of that engine. */
export function configuredEntry(configured: DatabaseConfig[], req: { engine?: string; name?: string }): DatabaseConfig | undefined {
  if (req.name) return configured.find((d) => (d.name ?? d.engine) === req.name);
  return configured.find((d) => d.engine === req.engine);
}

/** Flags over devx.yaml over the engine's defaults. */
export function resolveDb(ctx: DbContext, req: SpawnRequest): ResolvedDb {
  const cfg = configuredEntry(ctx.configured, req);
  const engine = req.engine ?? cfg?.engine;
  if (!engine) throw new UsageError(`no database named "${req.name}" in devx.yaml`, "name an engine: devx db spawn postgres|redis|mysql|mongo");
  if (cfg && req.engine && cfg.engine !== req.engine) throw new ConflictError(`"${req.name}" is a ${cfg.engine} database in devx.yaml, not ${req.engine}`, "pick another --name");
  const spec = ENGINE_SPECS[engine];
  const name = req.name ?? cfg?.name ?? engine;
  const repo = spec.defaultImage.replace(/:[^:/]+$/, "");
  const image = req.image ?? cfg?.image ?? (cfg?.version !== undefined ? `${repo}:${cfg.version}` : spec.defaultImage);
  const port = req.port ?? cfg?.port ?? spec.containerPort;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(cfg?.env ?? {})) env[k] = String(v);
  return {
    name,
    engine,
    spec,
    image,
    port,
    portExplicit: req.port !== undefined ? !!req.portExplicit : false,
    container: containerName(ctx.project, name),
    volume: cfg?.volume ?? `${containerName(ctx.project, name)}-data`,
    env,
  };
}

async function choosePort(ctx: DbContext, db: ResolvedDb): Promise<number> {
  const free = ctx.portFree ?? portFree;
  if (await free(db.port)) return db.port;
  if (db.portExplicit) throw new ConflictError(`port ${db.port} on 127.0.0.1 is already in use`, `pick another --port, or leave it out and devx picks a free one`);
  for (let p = db.port + 1; p <= Math.min(65535, db.port + 100); p++) {
    if (await free(p)) {
      ctx.emit({ type: "warning", message: `port ${db.port} is busy: ${db.name} listens on 127.0.0.1:${p} instead`, hint: `\`devx db url ${db.name}\` and the injected env use the new port` });
      return p;
    }
  }
  throw new ConflictError(`ports ${db.port}–${db.port + 100} on 127.0.0.1 are all in use`, "pass a free --port");
}

/**
 * Start a database and wait until it answers a real query. Idempotent: a running container is
 * reused (after its probes pass); a stopped one is replaced (the data lives in the volume), which
 * also applies a changed image or a port shift. Returns what `url`, `ls` and `up` need.
 */
export async function spawnDatabase(ctx: DbContext, req: SpawnRequest): Promise<DbInfo & { reused: boolean }> {
  const db = resolveDb(ctx, req);
  const { runtime } = ctx;
  const step = { type: "step" as const, id: `db:${db.name}`, title: db.name === db.engine ? db.name : `${db.engine} ${db.name}` };
  ctx.emit({ ...step, status: "started" });
  const { credentials, created } = await loadOrCreateCredentials(ctx.stateDir, ctx.project, db.name, db.engine);

  const existing = await runtime.inspectContainer(db.container);
  if (existing && existing.labels[LABEL.managed] !== "true") {
    throw new ConflictError(`a container named ${db.container} exists and was not created by devx`, `remove it (podman rm ${db.container}) or pick another --name`);
  }
  if (existing?.state === "running") {
    if (req.image && existing.image !== db.image) ctx.emit({ type: "warning", message: `${db.name} is already running from ${existing.image}, not ${db.image}`, hint: `\`devx db rm ${db.name}\` then spawn again to switch images (the volume is kept)` });
    await waitReady(ctx, db, credentials, req.timeoutMs);
    ctx.emit({ ...step, status: "done", detail: "already running" });
    return { ...toDbInfo(existing, credentials), reused: true };
  }
  if (existing) await runtime.remove(db.container, { force: true });

  // the port first: a conflict must not leave a volume behind
  const port = await choosePort(ctx, db);
  const labels = devxLabels(ctx.project, "database", { [LABEL.engine]: db.engine, [DB_LABEL]: db.name });
  const volumes = await runtime.listVolumes({ labels: { [LABEL.managed]: "true", [LABEL.project]: ctx.project, [DB_LABEL]: db.name } });
  const volumeExists = volumes.some((v) => v.name === db.volume) || (await runtime.listVolumes({})).some((v) => v.name === db.volume);
  if (!volumeExists) await runtime.createVolume(db.volume, labels);
  else if (created) {
    ctx.emit({ type: "warning", message: `volume ${db.volume} exists but its credentials were lost: the new password may not open it`, hint: `\`devx db rm ${db.name} --volume\` starts over with an empty database` });
  }

  try {
    await runImage(
      runtime,
      {
        name: db.container,
        image: db.image,
        command: db.spec.command,
        env: { ...db.env, ...db.spec.env(credentials) },
        secretEnv: db.spec.secretEnv(credentials),
        labels,
        ports: [{ hostIp: "127.0.0.1", hostPort: port, containerPort: db.spec.containerPort }],
        volumes: [{ name: db.volume, destination: db.spec.dataDir }],
      },
      { what: db.name, emit: ctx.emit, hint: "check the registry is reachable, or point devx.yaml `databases[].image` (or --image) at an image you have" },
    );
  } catch (e) {
    // a database that never started leaves nothing: the container the runtime may have created
    // (a port bind fails after create), and the volume and credentials made for it — never a
    // volume that was there before
    await runtime.remove(db.container, { force: true }).catch(() => {});
    if (!volumeExists) {
      await runtime.removeVolume(db.volume).catch(() => {});
      if (created) await removeCredentials(ctx.stateDir, ctx.project, db.name);
    }
    throw e;
  }
  await waitReady(ctx, db, credentials, req.timeoutMs);
  const info = await runtime.inspectContainer(db.container);
  if (!info) throw new NotFoundError(`${db.container} disappeared right after it became ready`, "check `podman ps -a` and the runtime's logs");
  ctx.emit({ ...step, status: "done", detail: `127.0.0.1:${port}` });
  return { ...toDbInfo(info, credentials), reused: false };
}

async function logTail(ctx: DbContext, container: string, lines = 15): Promise<string> {
  const out: string[] = [];
  try {
    for await (const l of ctx.runtime.logs(container, { tail: lines })) out.push(l);
  } catch {
    /* logs are best effort in an error message */
  }
  return out.length ? `\n${out.map((l) => `  | ${l}`).join("\n")}` : "";
}

/**
 * Poll the engine's probes inside the container until they all pass. A container that exits
 * fails at once with its last log lines; so does the timeout, naming the probe that never passed.
 */
export async function waitReady(ctx: DbContext, db: Pick<ResolvedDb, "name" | "container" | "spec">, credentials: Credentials, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const probes = db.spec.probes(credentials);
  let last = "";
  for (;;) {
    if (ctx.signal.aborted) throw new CancelledError(`cancelled while waiting for ${db.name}`, `the container keeps running; \`devx db rm ${db.name}\` removes it`);
    const info = await ctx.runtime.inspectContainer(db.container);
    if (!info || info.state !== "running") {
      throw new UnhealthyError(`${db.name} stopped while starting (${info?.state ?? "gone"})${await logTail(ctx, db.container)}`, `see \`devx db logs ${db.name}\`; a volume from another engine version or lost credentials needs \`devx db rm ${db.name} --volume\``);
    }
    let ok = true;
    for (const p of probes) {
      const r = await ctx.runtime.exec(db.container, p.argv, { timeoutMs: 15_000 });
      if (r.code !== 0 || (p.expect && !p.expect.test(r.stdout))) {
        ok = false;
        last = `${p.what}: ${(r.stderr.trim() || r.stdout.trim() || `exit ${r.code}`).split("\n").pop()}`;
        break;
      }
    }
    if (ok) return;
    if (Date.now() > deadline) {
      throw new UnhealthyError(`${db.name} was not ready after ${Math.round(timeoutMs / 1000)} s (${last})${await logTail(ctx, db.container)}`, `see \`devx db logs ${db.name}\`, or wait longer with --timeout`);
    }
    await sleepUnlessAborted(ctx.pollMs ?? 200, ctx.signal);
  }
}
