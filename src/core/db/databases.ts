import type { CoreDeps } from "../deps.ts";
import { NotFoundError, ProviderError, UsageError } from "../../errors.ts";
import { LABEL } from "../labels.ts";
import { dbContext, type DbContext } from "./db-context.ts";
import { readCredentials, removeCredentials } from "./credentials.ts";
import { ENGINE_SPECS, type Credentials, type Engine } from "./engines.ts";
import { waitReady } from "./spawn.ts";
import { DB_LABEL } from "./db-info.ts";
import { HOST, toDbInfo, type DbInfo } from "./db-info.ts";

export { toDbInfo, type DbInfo } from "./db-info.ts";

/** The project's databases, from runtime labels (not a local file), oldest first. */
export async function listDatabases(ctx: DbContext, opts: { allProjects?: boolean; volumes?: boolean } = {}): Promise<DbInfo[]> {
  const labels: Record<string, string> = { [LABEL.managed]: "true", [LABEL.kind]: "database" };
  if (!opts.allProjects) labels[LABEL.project] = ctx.project;
  const containers = await ctx.runtime.listContainers({ labels, all: true });
  const out: DbInfo[] = [];
  for (const c of containers) {
    if (!ENGINE_SPECS[c.labels[LABEL.engine] as Engine]) continue;
    const project = c.labels[LABEL.project] ?? ctx.project;
    out.push(toDbInfo(c, await readCredentials(ctx.stateDir, project, c.labels[DB_LABEL] ?? c.name)));
  }
  out.sort((a, b) => (a.createdAt ?? "").localeCompare(b.createdAt ?? "") || a.name.localeCompare(b.name));
  // `rm` without --volume keeps the data: show those volumes so they are not forgotten
  if (opts.volumes) {
    const mounted = new Set(out.map((d) => d.volume));
    for (const vol of await ctx.runtime.listVolumes({ labels })) {
      const engine = vol.labels[LABEL.engine] as Engine;
      if (mounted.has(vol.name) || !ENGINE_SPECS[engine]) continue;
      out.push({ name: vol.labels[DB_LABEL] ?? vol.name, engine, project: vol.labels[LABEL.project] ?? "", container: "", image: "", state: "volume only", volume: vol.name, host: HOST });
    }
  }
  return out;
}

/** A database by name, else by engine when exactly one of that engine exists. */
export async function findDatabase(ctx: DbContext, target: string): Promise<DbInfo | undefined> {
  const all = await listDatabases(ctx);
  const byName = all.find((d) => d.name === target);
  if (byName) return byName;
  const byEngine = all.filter((d) => d.engine === target);
  if (byEngine.length > 1) throw new UsageError(`${byEngine.length} ${target} databases: ${byEngine.map((d) => d.name).join(", ")}`, "name the one you mean");
  return byEngine[0];
}

export async function requireDatabase(ctx: DbContext, target: string): Promise<DbInfo> {
  const db = await findDatabase(ctx, target);
  if (db) return db;
  const engine = target in ENGINE_SPECS ? target : "<engine>";
  throw new NotFoundError(`no database "${target}" in project ${ctx.project}`, `start one with \`devx db spawn ${engine}${engine === target ? "" : ` --name ${target}`}\`, or list them with \`devx db ls\``);
}

export interface RemovePlan {
  container?: string;
  volume?: string;
  credentials: boolean;
}

/** What `rm` would remove: the container, and with `volume` the volume and the stored credentials. */
export async function planRemove(ctx: DbContext, target: string, opts: { volume?: boolean }): Promise<RemovePlan & { name: string }> {
  const db = await findDatabase(ctx, target);
  if (db) return { name: db.name, container: db.container, volume: opts.volume ? db.volume : undefined, credentials: !!opts.volume };
  if (!opts.volume) await requireDatabase(ctx, target);
  // the container is gone but its volume may remain: find it by label
  const vols = await ctx.runtime.listVolumes({ labels: { [LABEL.managed]: "true", [LABEL.project]: ctx.project, [LABEL.kind]: "database" } });
  const vol = vols.find((v) => v.labels[DB_LABEL] === target) ?? vols.filter((v) => v.labels[LABEL.engine] === target).at(0);
  if (!vol) await requireDatabase(ctx, target);
  const name = vol!.labels[DB_LABEL] ?? target;
  return { name, volume: vol!.name, credentials: true };
}

export async function removeDatabase(ctx: DbContext, plan: RemovePlan & { name: string }): Promise<void> {
  if (plan.container) await ctx.runtime.remove(plan.container, { force: true });
  if (plan.volume) await ctx.runtime.removeVolume(plan.volume);
  if (plan.credentials) await removeCredentials(ctx.stateDir, ctx.project, plan.name);
}

/** Stop (if running) and start again, then wait for the engine's probes. */
export async function restartDatabase(ctx: DbContext, target: string, timeoutMs?: number): Promise<DbInfo> {
  const db = await requireDatabase(ctx, target);
  if (db.state === "running") await ctx.runtime.stop(db.container, 10);
  await ctx.runtime.start(db.container);
  const credentials = await readCredentials(ctx.stateDir, db.project, db.name);
  if (credentials) await waitReady(ctx, { name: db.name, container: db.container, spec: ENGINE_SPECS[db.engine] }, credentials, timeoutMs);
  return (await findDatabase(ctx, db.name)) ?? db;
}

/** Stop a database, keeping the container (for `devx up` teardown). */
export async function stopDatabase(ctx: DbContext, target: string, graceSeconds = 10): Promise<void> {
  const db = await findDatabase(ctx, target);
  if (db?.state === "running") await ctx.runtime.stop(db.container, graceSeconds);
}

/** "my-cache" → "MY_CACHE" */
export const envStem = (name: string) => name.toUpperCase().replace(/[^A-Z0-9]/g, "_");

/** `<NAME>_URL`, `_HOST`, `_PORT` for one database. */
export function connectionEnv(db: DbInfo): Record<string, string> {
  if (!db.url || db.port === undefined) return {};
  const N = envStem(db.name);
  return { [`${N}_URL`]: db.url, [`${N}_HOST`]: db.host, [`${N}_PORT`]: String(db.port) };
}

/**
 * The connection env of the project's running databases, for `up`, `shell` and `run`:
 * `<NAME>_URL/_HOST/_PORT` for each, DATABASE_URL for the first one (devx.yaml order, else the
 * oldest), and libpq's PG* variables for the first postgres so `psql` works with no arguments.
 */
export function envOf(dbs: DbInfo[], configured: Array<{ engine: string; name?: string }> = []): Record<string, string> {
  const running = dbs.filter((d) => d.state === "running" && d.url);
  const order = (d: DbInfo) => {
    const i = configured.findIndex((c) => (c.name ?? c.engine) === d.name);
    return i === -1 ? configured.length : i;
  };
  const sorted = [...running].sort((a, b) => order(a) - order(b));
  const env: Record<string, string> = {};
  for (const d of sorted) Object.assign(env, connectionEnv(d));
  if (sorted[0]) env.DATABASE_URL = sorted[0].url!;
  const pg = sorted.find((d) => d.engine === "postgres");
  if (pg) {
    const u = new URL(pg.url!);
    Object.assign(env, { PGHOST: pg.host, PGPORT: String(pg.port), PGUSER: decodeURIComponent(u.username), PGPASSWORD: decodeURIComponent(u.password), PGDATABASE: decodeURIComponent(u.pathname.slice(1)) });
  }
  return env;
}

export async function databaseEnvFor(ctx: DbContext): Promise<Record<string, string>> {
  return envOf(await listDatabases(ctx), ctx.configured);
}

/**
 * The connection env for `up`, `shell` and `run` (empty when no database runs). A missing or
 * broken container runtime must not stop `devx run`: it yields no database env, with a warning
 * when devx.yaml declares databases that were expected.
 */
export async function databaseEnv(deps: CoreDeps): Promise<Record<string, string>> {
  try {
    return await databaseEnvFor(await dbContext(deps));
  } catch (e) {
    if (!(e instanceof ProviderError)) throw e;
    const configured = (await deps.findConfig())?.config.databases ?? [];
    if (configured.length) deps.emit({ type: "warning", message: `no database env: ${e.message}`, hint: e.hint });
    return {};
  }
}

/** The URL with its password replaced, for listings and --json (secrets never go there). */
export function maskUrl(url: string | undefined): string | undefined {
  return url?.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):([^@/\s]+)@/i, "$1:****@");
}

/** A DbInfo fit for --json and listings: the password masked. */
export function publicInfo(db: DbInfo): DbInfo {
  return { ...db, url: maskUrl(db.url) };
}
