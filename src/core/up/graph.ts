import { NotFoundError } from "../../errors.ts";
import { ConfigErrors } from "../../config/yaml.ts";
import { closest } from "../../text/suggest.ts";
import { durationMs } from "../../config/duration.ts";
import { dependencies, type DatabaseConfig, type DevxConfig, type HealthcheckConfig, type ServiceConfig, type TunnelConfig } from "../../config/schema.ts";

/**
 * The service graph: every database and service of devx.yaml as one node with its dependencies.
 * Validation happens here, before anything starts: unknown dependencies, cycles (named), duplicate
 * names, port clashes and runtime-specific required keys. `devx up` and `devx config validate`
 * both run it, so validate accepts exactly what up accepts; every problem is collected.
 */
export type Condition = "service_started" | "service_healthy" | "service_completed_successfully";
export type RuntimeKind = "host" | "container" | "bridge" | "database" | "tunnel";

export interface RestartPolicy {
  policy: "no" | "always" | "on-failure";
  /** on-failure:N — at most N restarts */
  max?: number;
}

export interface NodeSpec {
  name: string;
  kind: "service" | "database" | "tunnel";
  runtime: RuntimeKind;
  service?: ServiceConfig;
  database?: DatabaseConfig;
  tunnel?: TunnelConfig;
  /** a tunnel without its own port exposes this node's resolved port */
  portFrom?: string;
  deps: Array<{ name: string; condition: Condition }>;
  /** the configured host port (resolution may shift it) */
  port?: number;
  /** effective health check: the configured one, or tcp for a node with a port */
  healthcheck?: HealthcheckConfig;
  restart: RestartPolicy;
  graceMs: number;
}

export interface Graph {
  nodes: Map<string, NodeSpec>;
  /** names in a valid start order (dependencies first), config order among equals */
  order: string[];
  /** the nodes grouped by depth, for the plan */
  levels: string[][];
}

/** Locates an item (or one of its keys) in devx.yaml or an include, for messages ("devx.yaml:12:5"). */
export type Locate = (section: "services" | "databases" | "tunnels", name: string, key?: string, nth?: number) => string | undefined;

export const ENGINE_PORTS: Record<string, number> = { postgres: 5432, redis: 6379, mysql: 3306, mongo: 27017 };

export function databaseName(db: DatabaseConfig): string {
  return db.name ?? db.engine;
}

export function parseRestart(text: string | undefined): RestartPolicy {
  if (!text || text === "no") return { policy: "no" };
  if (text === "always") return { policy: "always" };
  const m = /^on-failure(?::(\d+))?$/.exec(text);
  return { policy: "on-failure", max: m?.[1] !== undefined ? Number(m[1]) : undefined };
}

export function buildGraph(config: DevxConfig, opts: { locate?: Locate; only?: string[] } = {}): Graph {
  const nodes = new Map<string, NodeSpec>();
  const problems: string[] = [];
  /** how many items of this section and name came before this one: points a message at the duplicate itself */
  const counts = new Map<string, number>();
  const seen = (id: string) => {
    const n = counts.get(id) ?? 0;
    counts.set(id, n + 1);
    return n;
  };
  /** a problem, led by the position of the item (or key) it is about: "devx.yaml:12:5 …" */
  const problem = (section: "services" | "databases" | "tunnels", name: string, key: string | undefined, message: string, nth?: number) => {
    const p = opts.locate?.(section, name, key, nth);
    problems.push(p ? `${p} ${message}` : message);
  };

  for (const db of config.databases ?? []) {
    const name = databaseName(db);
    const nth = seen(`databases/${name}`);
    if (nodes.has(name)) {
      problem("databases", name, undefined, `duplicate name "${name}": database names must be unique (set name: on one of them)`, nth);
      continue;
    }
    nodes.set(name, {
      name,
      kind: "database",
      runtime: "database",
      database: db,
      deps: [],
      port: db.port ?? ENGINE_PORTS[db.engine],
      restart: { policy: "no" },
      graceMs: 10_000,
    });
  }
  for (const s of config.services ?? []) {
    const nth = seen(`services/${s.name}`);
    if (nodes.has(s.name)) {
      problem("services", s.name, undefined, `duplicate name "${s.name}": every service and database needs its own name`, nth);
      continue;
    }
    if (s.runtime === "host" && !s.command) problem("services", s.name, undefined, `service "${s.name}" runs on the host but has no command`);
    if (s.runtime === "container" && !s.image) problem("services", s.name, undefined, `service "${s.name}" is a container but has no image`);
    if (s.runtime === "bridge" && !s.bridge) problem("services", s.name, undefined, `service "${s.name}" is a bridge node but has no bridge: section`);
    const intercept = s.runtime === "bridge" && s.bridge?.mode === "intercept";
    // an intercept's port is where the Service's traffic is delivered (another node's port, usually), not one it binds
    const port = intercept ? (s.bridge?.local_port ?? s.port) : (s.port ?? (s.runtime === "bridge" ? s.bridge?.local_port : undefined));
    if (intercept && port !== undefined && s.bridge?.port === undefined) {
      problem("services", s.name, "bridge", `service "${s.name}" delivers to local port ${port} but names no Service port: set bridge.port (the cluster Service port to intercept)`);
    }
    const hc = s.healthcheck ?? (port !== undefined && s.runtime !== "bridge" ? { tcp: true } : undefined);
    nodes.set(s.name, {
      name: s.name,
      kind: "service",
      runtime: s.runtime,
      service: s,
      deps: dependencies(s),
      port,
      healthcheck: hc,
      restart: parseRestart(s.restart),
      graceMs: durationMs(s.stop_grace_period, 10_000),
    });
  }

  for (const n of nodes.values()) {
    for (const d of n.deps) {
      if (d.name === n.name) problem("services", n.name, "depends_on", `service "${n.name}" depends on itself`);
      else if (d.condition === "service_completed_successfully" && nodes.get(d.name)?.restart.policy === "always") {
        problem("services", n.name, "depends_on", `service "${n.name}" waits for "${d.name}" to complete, but ${d.name} has restart: always and never completes`);
      } else if (!nodes.has(d.name)) {
        const guess = closest(d.name, nodes.keys());
        problem("services", n.name, "depends_on", `service "${n.name}" depends on "${d.name}", which is not defined${guess ? ` (did you mean "${guess}"?)` : ""}`);
      }
    }
  }

  // Tunnels are nodes "tunnel/<name>" after the service they expose (healthy first), on its resolved port.
  for (const t of config.tunnels ?? []) {
    const name = `tunnel/${t.name}`;
    if (nodes.has(name)) {
      problem("tunnels", t.name, undefined, `duplicate tunnel name "${t.name}"`);
      continue;
    }
    if (t.service !== undefined && !nodes.has(t.service)) {
      const guess = closest(t.service, nodes.keys());
      problem("tunnels", t.name, "service", `tunnel "${t.name}" exposes "${t.service}", which is not defined${guess ? ` (did you mean "${guess}"?)` : ""}`);
      continue;
    }
    if (t.port === undefined && (t.service === undefined || nodes.get(t.service)!.port === undefined)) {
      problem("tunnels", t.name, undefined, `tunnel "${t.name}" has no port: set port, or a service that has one`);
      continue;
    }
    nodes.set(name, {
      name,
      kind: "tunnel",
      runtime: "tunnel",
      tunnel: t,
      deps: t.service ? [{ name: t.service, condition: "service_healthy" }] : [],
      portFrom: t.port === undefined ? t.service : undefined,
      restart: { policy: "no" },
      graceMs: 10_000,
    });
  }

  const byPort = new Map<number, string>();
  for (const n of nodes.values()) {
    if (n.port === undefined || (n.runtime === "bridge" && n.service?.bridge?.mode === "intercept")) continue;
    const other = byPort.get(n.port);
    if (other) problem(n.kind === "service" ? "services" : "databases", n.name, "port", `port ${n.port} is configured for both "${other}" and "${n.name}"`);
    else byPort.set(n.port, n.name);
  }

  if (problems.length === 0) {
    const cycle = findCycle(nodes);
    if (cycle) problem("services", cycle[0]!, "depends_on", `dependency cycle: ${cycle.join(" → ")}`);
  }
  if (problems.length > 0) {
    throw new ConfigErrors(problems, problems.length > 1 ? `${problems.length - 1} more problem${problems.length > 2 ? "s" : ""}: \`devx config validate\` lists them all` : "fix depends_on / names / ports in devx.yaml, then run `devx config validate`");
  }

  if (opts.only && opts.only.length > 0) selectWithDependencies(nodes, opts.only);
  const levels = levelsOf(nodes);
  return { nodes, order: levels.flat(), levels };
}

/** Keeps the named nodes and everything they depend on (transitively). */
function selectWithDependencies(nodes: Map<string, NodeSpec>, only: string[]): void {
  const keep = new Set<string>();
  const visit = (name: string) => {
    if (keep.has(name)) return;
    keep.add(name);
    for (const d of nodes.get(name)!.deps) visit(d.name);
  };
  for (const name of only) {
    if (!nodes.has(name)) {
      const guess = closest(name, nodes.keys());
      throw new NotFoundError(`no service or database named "${name}" in devx.yaml`, guess ? `did you mean "${guess}"?` : `defined: ${[...nodes.keys()].join(", ")}`);
    }
    visit(name);
  }
  for (const name of [...nodes.keys()]) if (!keep.has(name)) nodes.delete(name);
}

/** The first cycle found, as a closed path: ["api", "worker", "api"]. */
export function findCycle(nodes: Map<string, NodeSpec>): string[] | undefined {
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (name: string): string[] | undefined => {
    state.set(name, "visiting");
    stack.push(name);
    for (const d of nodes.get(name)?.deps ?? []) {
      const s = state.get(d.name);
      if (s === "visiting") return [...stack.slice(stack.indexOf(d.name)), d.name];
      if (s === undefined && nodes.has(d.name)) {
        const c = visit(d.name);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(name, "done");
    return undefined;
  };
  for (const name of nodes.keys()) {
    if (state.has(name)) continue;
    const c = visit(name);
    if (c) return c;
  }
  return undefined;
}

function levelsOf(nodes: Map<string, NodeSpec>): string[][] {
  const depth = new Map<string, number>();
  const d = (name: string): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    const n = nodes.get(name)!;
    const v = n.deps.length === 0 ? 0 : 1 + Math.max(...n.deps.map((x) => d(x.name)));
    depth.set(name, v);
    return v;
  };
  const levels: string[][] = [];
  for (const name of nodes.keys()) (levels[d(name)] ??= []).push(name);
  return levels.filter(Boolean);
}

/** Nodes that depend on `name` directly. */
export function dependents(graph: Graph, name: string): string[] {
  return [...graph.nodes.values()].filter((n) => n.deps.some((d) => d.name === name)).map((n) => n.name);
}
