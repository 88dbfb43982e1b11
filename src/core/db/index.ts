/**
 * Databases as a capability: what `devx db`, `devx up` (databases: nodes), `devx run`/`shell`
 * (connection env) and the dashboard use. Snapshots live next to this (snapshot*.ts).
 */
export { dbContext, type DbContext } from "./db-context.ts";
export { spawnDatabase, waitReady, resolveDb, containerName, DB_LABEL, type SpawnRequest, type ResolvedDb } from "./spawn.ts";
export { listDatabases, findDatabase, requireDatabase, planRemove, removeDatabase, restartDatabase, stopDatabase, connectionEnv, envOf, databaseEnv, databaseEnvFor, maskUrl, publicInfo, type DbInfo, type RemovePlan } from "./databases.ts";
export { databaseNodeRuntime } from "./up-runtime.ts";
export { ENGINE_SPECS, type Engine, type EngineSpec, type Credentials } from "./engines.ts";
