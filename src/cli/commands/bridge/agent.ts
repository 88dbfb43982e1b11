import * as v from "valibot";
import { defineCommand, flag, number, option, optionWithDefault } from "../../define.ts";
import type { Deps } from "../../deps.ts";
import { UsageError } from "../../../errors.ts";

/**
 * The in-cluster intercept agent (run by `devx bridge intercept` as a Job). Hidden from help: people
 * never start it by hand. Flags are the contract with the Job spec the CLI writes; the tunnel secret
 * comes from the environment (a secretKeyRef), never from argv.
 */
export const agentOptions = v.object({
  namespace: option("namespace of the intercepted Service", { placeholder: "ns" }),
  service: option("the intercepted Service", { placeholder: "name" }),
  session: option("intercept session id", { placeholder: "id" }),
  controlPort: number("port for the CLI's tunnel, on 127.0.0.1 (reached through a port-forward)", { min: 1, max: 65535, default: 4000 }),
  healthPort: number("readiness port on the pod IP (accepts and closes)", { min: 1, max: 65535 }),
  grace: optionWithDefault("restore the Service after the CLI is gone this long", "30s", { placeholder: "duration" }),
  mirror: flag("forward to the original pods and send a copy of each request to the CLI"),
  ports: option("Service ports to listen on: name:port[,name:port…]", { placeholder: "list" }),
});

export async function runBridgeAgent(opts: v.InferOutput<typeof agentOptions>, deps: Deps, invokedAs: string): Promise<number> {
  const { parseDuration } = await import("../../../config/duration.ts");
  const { parsePortList } = await import("../../../protocol/bridge/wire.ts");
  const { SECRET_ENV } = await import("../../../core/bridge/agent-spec.ts");
  const { inClusterKubeBridge } = await import("../../../../providers/kube/bridge.ts");
  const { runAgent } = await import("../../../agent/agent.ts");
  if (!opts.service || !opts.session || !opts.ports) throw new UsageError(`devx ${invokedAs} needs --service, --session and --ports`, "the agent is started by `devx bridge intercept`; do not run it by hand");
  const graceMs = parseDuration(opts.grace);
  if (graceMs === undefined) throw new UsageError(`bad --grace "${opts.grace}"`, "use a duration such as 30s or 2m");
  let ports;
  try {
    ports = parsePortList(opts.ports);
  } catch (e) {
    throw new UsageError((e as Error).message, "pass --ports name:port[,name:port…]");
  }
  // read once and dropped from the environment: nothing this process might start inherits it
  const secret = deps.env[SECRET_ENV] || undefined;
  delete deps.env[SECRET_ENV];
  delete process.env[SECRET_ENV];
  const kube = inClusterKubeBridge(deps.env);
  const log = (line: string) => deps.io.err.write(`${new Date().toISOString()} agent ${opts.session}: ${line}\n`);
  return runAgent(
    kube,
    {
      namespace: opts.namespace ?? kube.namespace,
      service: opts.service,
      session: opts.session,
      controlPort: opts.controlPort ?? 4000,
      healthPort: opts.healthPort,
      graceMs,
      mirror: opts.mirror,
      ports,
      host: deps.env.POD_IP || "0.0.0.0",
      secret,
      log,
    },
    deps.signal,
  );
}

export default defineCommand({
  path: ["bridge-agent"],
  group: "Kubernetes & hybrid",
  dryRun: "unsupported",
  summary: "in-cluster bridge intercept agent (started by `devx bridge intercept`)",
  hidden: true,
  options: agentOptions,
  run: (opts, deps) => runBridgeAgent(opts, deps, "bridge-agent"),
});
