import * as v from "valibot";
import { defineCommand, flag, number, option, optionWithDefault } from "../define.ts";
import { UsageError } from "../../errors.ts";

/**
 * The in-cluster intercept agent (run by `devx bridge intercept` as a Job). Hidden from help: people
 * never start it by hand. Flags are the contract with the Job spec the CLI writes.
 */
export default defineCommand({
  path: ["agent"],
  group: "Pipelines & CI/CD",
  dryRun: "unsupported",
  summary: "in-cluster bridge intercept agent (started by `devx bridge intercept`)",
  hidden: true,
  options: v.object({
    namespace: option("namespace of the intercepted Service", { placeholder: "ns" }),
    service: option("the intercepted Service", { placeholder: "name" }),
    session: option("intercept session id", { placeholder: "id" }),
    controlPort: number("port for the CLI's tunnel (through a port-forward)", { min: 1, max: 65535, default: 4000 }),
    grace: optionWithDefault("restore the Service after the CLI is gone this long", "30s", { placeholder: "duration" }),
    mirror: flag("forward to the original pods and send a copy of each request to the CLI"),
    ports: option("Service ports to listen on: name:port[,name:port…]", { placeholder: "list" }),
  }),
  async run(opts, deps) {
    const { parseDuration } = await import("../../config/duration.ts");
    const { parsePortList } = await import("../../core/bridge/wire.ts");
    const { inClusterKube } = await import("../../../providers/kube/client.ts");
    const { runAgent } = await import("../../agent/agent.ts");
    if (!opts.service || !opts.session || !opts.ports) throw new UsageError("devx agent needs --service, --session and --ports", "the agent is started by `devx bridge intercept`; do not run it by hand");
    const graceMs = parseDuration(opts.grace);
    if (graceMs === undefined) throw new UsageError(`bad --grace "${opts.grace}"`, "use a duration such as 30s or 2m");
    let ports;
    try {
      ports = parsePortList(opts.ports);
    } catch (e) {
      throw new UsageError((e as Error).message, "pass --ports name:port[,name:port…]");
    }
    const kube = inClusterKube(deps.env);
    const log = (line: string) => deps.io.err.write(`${new Date().toISOString()} agent ${opts.session}: ${line}\n`);
    return runAgent(
      kube,
      { namespace: opts.namespace ?? kube.namespace, service: opts.service, session: opts.session, controlPort: opts.controlPort ?? 4000, graceMs, mirror: opts.mirror, ports, host: deps.env.POD_IP || "0.0.0.0", log },
      deps.signal,
    );
  },
});
