import { defineCommand } from "../define.ts";
import { agentOptions, runBridgeAgent } from "./bridge/agent.ts";

/**
 * `devx agent --namespace … --session … --ports …`: the argv of agent Jobs created by devx before the
 * intercept agent became `devx bridge-agent`. Such a Job keeps running, or is restarted from an image
 * that now holds a newer devx; it must still come up and heal its Service. (`devx agent init|ship|review`
 * are meant for the coding-agent commands: a subcommand there never looks like these flags.)
 */
export default defineCommand({
  path: ["agent"],
  group: "Pipelines & CI/CD",
  dryRun: "unsupported",
  summary: "in-cluster bridge intercept agent, as Jobs of older devx versions start it",
  hidden: true,
  options: agentOptions,
  run: (opts, deps) => runBridgeAgent(opts, deps, "agent"),
});
