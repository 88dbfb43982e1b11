import type { CoreDeps } from "../deps.ts";
import type { Graph, NodeSpec } from "./graph.ts";

/**
 * The environment devx injects: into each service (project env, its own env, its dependencies'
 * `<NAME>_URL/_HOST/_PORT`, `DATABASE_URL`, `PORT`), and into `devx run` / `devx shell`
 * (collectEnv: project env, databases, services of a running `up`, the bridge).
 */

/** "my-api" → "MY_API" */
export function envName(node: string): string {
  return node.toUpperCase().replace(/[^A-Z0-9]/g, "_");
}

const SECRET_KEY = /PASSWORD|SECRET|TOKEN|KEY/i;

/** Replace secret values for display: keys that look secret, and passwords inside URLs. */
export function maskEnv(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) out[k] = SECRET_KEY.test(k) ? "****" : maskUrlPassword(v);
  return out;
}

/** Would this entry leak a secret if it appeared in argv or a log? */
export function isSecretEntry(key: string, value: string): boolean {
  return SECRET_KEY.test(key) || maskUrlPassword(value) !== value;
}

export function maskUrlPassword(value: string): string {
  return value.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):([^@/\s]+)@/gi, "$1:****@");
}

const str = (x: string | number | boolean) => String(x);

/** What a node exposes to the nodes that depend on it. */
export interface Exposed {
  /** env entries for dependents, e.g. API_URL, API_HOST, API_PORT (or a database's own URL vars) */
  env: Record<string, string>;
  /** the connection URL (DATABASE_URL for the first database) */
  url?: string;
}

export function serviceExposed(node: NodeSpec, port: number | undefined): Exposed {
  if (port === undefined) return { env: {} };
  const N = envName(node.name);
  const url = `http://127.0.0.1:${port}`;
  return { env: { [`${N}_URL`]: url, [`${N}_HOST`]: "127.0.0.1", [`${N}_PORT`]: String(port) }, url };
}

/**
 * The base every injected environment starts from — each `up` node's and `devx run`/`devx shell`'s:
 * `extra` (devx's own variables), then devx.yaml's top-level `env:` as strings.
 */
export function projectEnv(env: Record<string, string | number | boolean> | undefined, extra: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = { ...extra };
  for (const [k, v] of Object.entries(env ?? {})) out[k] = str(v);
  return out;
}

/**
 * The env of one node's process: project env < its dependencies' env (`<NAME>_URL/_HOST/_PORT`,
 * a database's connection vars) < DATABASE_URL (the first database it depends on, in devx.yaml
 * order) < the service's own env < PORT. Only dependencies contribute, so what a service sees never
 * depends on which other node happened to start first.
 */
export function nodeEnv(args: {
  graph: Graph;
  node: NodeSpec;
  projectEnv?: Record<string, string | number | boolean>;
  exposed: Map<string, Exposed>;
  port?: number;
  extra?: Record<string, string>;
}): Record<string, string> {
  const { graph, node, exposed } = args;
  const env = projectEnv(args.projectEnv, args.extra);
  for (const d of node.deps) Object.assign(env, exposed.get(d.name)?.env ?? {});
  const depNames = new Set(node.deps.map((d) => d.name));
  const firstDb = [...graph.nodes.values()].find((n) => n.kind === "database" && depNames.has(n.name) && exposed.get(n.name)?.url);
  if (firstDb) env.DATABASE_URL = exposed.get(firstDb.name)!.url!;
  for (const [k, v] of Object.entries(node.service?.env ?? {})) env[k] = str(v);
  if (args.port !== undefined) env.PORT = String(args.port);
  return env;
}

export interface EnvSource {
  source: "project" | "databases" | "services" | "bridge";
  env: Record<string, string>;
}

/**
 * Everything devx knows, for `devx run` and `devx shell`, in the order `up` layers it for a
 * service: devx.yaml's top-level `env:` (the same projectEnv every node starts from), database
 * connection env, the service URLs of a running `up` (from its supervisor's session record) and the
 * bridge env. Sources that are not available (no database, no running up, no bridge) contribute
 * nothing.
 */
export async function collectEnv(deps: CoreDeps): Promise<{ env: Record<string, string>; sources: EnvSource[] }> {
  const sources: EnvSource[] = [];
  const loaded = await deps.findConfig();
  const base = projectEnv(loaded?.config.env);
  if (Object.keys(base).length) sources.push({ source: "project", env: base });
  const { databaseEnvOf, bridgeEnvOf } = await import("./sources.ts");
  const dbEnv = await databaseEnvOf(deps);
  if (dbEnv && Object.keys(dbEnv).length) sources.push({ source: "databases", env: dbEnv });
  if (loaded) {
    const { readUpSession } = await import("./session.ts");
    const rec = await readUpSession(deps, loaded);
    if (rec && !rec.stale) sources.push({ source: "services", env: rec.data.env });
  }
  const bridge = await bridgeEnvOf(deps);
  if (bridge && Object.keys(bridge).length) sources.push({ source: "bridge", env: bridge });
  const env: Record<string, string> = {};
  for (const s of sources) Object.assign(env, s.env);
  return { env, sources };
}
