import type { CoreDeps } from "../../deps.ts";
import type { ContainerRuntime } from "../../../../providers/runtime/types.ts";
import type { NodeRuntime, Running, StartContext } from "./types.ts";
import { containerRuntime } from "./container.ts";
import { bridgeRuntime } from "./bridge.ts";
import { tunnelRuntime } from "./tunnel.ts";

/**
 * The non-host runtimes of `devx up`, built lazily from deps: the container runtime is detected
 * only when a container or database node starts, so a host-only project never needs podman.
 */
export function upRuntimes(deps: CoreDeps): Record<"container" | "database" | "bridge" | "tunnel", NodeRuntime> {
  let rt: Promise<ContainerRuntime> | undefined;
  const runtime = () =>
    (rt ??= (async () => {
      const { detectRuntime } = await import("../../../../providers/runtime/index.ts");
      const loaded = await deps.findConfig();
      return detectRuntime({ exec: deps.exec, env: deps.env, paths: deps.paths }, loaded?.config.provider);
    })());
  let db: NodeRuntime | undefined;
  return {
    container: containerRuntime(runtime),
    database: {
      async start(ctx: StartContext): Promise<Running> {
        if (!db) {
          const [{ databaseNodeRuntime }, { dbContext }] = await Promise.all([import("../../db/up-runtime.ts"), import("../../db/db-context.ts")]);
          db = databaseNodeRuntime(deps, runtime().then((r) => dbContext(deps, r)));
        }
        return db.start(ctx);
      },
    },
    bridge: bridgeRuntime(deps),
    tunnel: tunnelRuntime(deps),
  };
}
