import type { LoadedConfig } from "../../config/load.ts";
import type { Graph } from "./graph.ts";
import { maskEnv, nodeEnv, serviceExposed, type Exposed } from "./env.ts";
import { describeCheck } from "./health.ts";
import type { PortChoice } from "./ports.ts";

export interface PlanNode {
  name: string;
  kind: string;
  runtime: string;
  dependsOn: Array<{ name: string; condition: string }>;
  port?: number;
  configuredPort?: number;
  healthcheck?: string;
  restart: string;
  env: Record<string, string>;
}

/** The plan `--dry-run` prints: the same graph, order, ports and env the real run uses (secrets masked). */
export function buildPlan(graph: Graph, loaded: LoadedConfig, ports: Map<string, PortChoice>): { order: string[]; levels: string[][]; nodes: PlanNode[] } {
  const exposed = new Map<string, Exposed>();
  const portOf = (name: string): number | undefined => {
    const n = graph.nodes.get(name)!;
    return n.portFrom ? portOf(n.portFrom) : (ports.get(name)?.port ?? n.port);
  };
  for (const n of graph.nodes.values()) if (n.kind !== "tunnel") exposed.set(n.name, serviceExposed(n, portOf(n.name)));
  const nodes = graph.order.map((name) => {
    const n = graph.nodes.get(name)!;
    const port = portOf(name);
    return {
      name,
      kind: n.kind,
      runtime: n.runtime,
      dependsOn: n.deps,
      port,
      configuredPort: n.portFrom ? port : n.port,
      healthcheck: n.healthcheck ? describeCheck(n.healthcheck, port) : undefined,
      restart: n.service?.restart ?? "no",
      env: n.kind === "service" ? maskEnv(nodeEnv({ graph, node: n, projectEnv: loaded.config.env, exposed, port })) : {},
    };
  });
  return { order: graph.order, levels: graph.levels, nodes };
}

export type UpPlan = ReturnType<typeof buildPlan>;
