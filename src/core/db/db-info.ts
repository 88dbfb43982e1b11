import type { ContainerInfo } from "../../../providers/runtime/types.ts";
import { LABEL } from "../labels.ts";
import { ENGINE_SPECS, type Credentials, type Engine } from "./engines.ts";

/** The label naming a database container or volume (its devx.yaml name). */
export const DB_LABEL = "devx.database";

/** One database as the runtime reports it (labels), joined with its stored credentials. */
export interface DbInfo {
  name: string;
  engine: Engine;
  project: string;
  container: string;
  image: string;
  state: string;
  volume?: string;
  host: string;
  port?: number;
  /** the connection URL, password included (undefined when the credentials file is gone) */
  url?: string;
  createdAt?: string;
}

export const HOST = "127.0.0.1";

export function toDbInfo(c: ContainerInfo, credentials: Credentials | undefined): DbInfo {
  const engine = c.labels[LABEL.engine] as Engine;
  const spec = ENGINE_SPECS[engine];
  const port = c.ports.find((p) => p.containerPort === spec?.containerPort)?.hostPort;
  return {
    name: c.labels[DB_LABEL] ?? c.name,
    engine,
    project: c.labels[LABEL.project] ?? "",
    container: c.name,
    image: c.image,
    state: c.state,
    volume: c.volumes.find((v) => v.destination === spec?.dataDir)?.name ?? c.volumes[0]?.name,
    host: HOST,
    port,
    url: spec && credentials && port !== undefined ? spec.url(credentials, HOST, port) : undefined,
    createdAt: c.createdAt,
  };
}

