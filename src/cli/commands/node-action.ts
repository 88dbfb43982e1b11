import * as v from "valibot";
import { defineCommand, variadicArg, type Command } from "../define.ts";

/**
 * `devx start|stop|restart <node>…`: one node of the running `devx up` through its control
 * channel, the same calls as the dashboard's keys. Dependents are not touched: stopping a database
 * that an API needs leaves the API running (and failing its checks) until it is restarted too.
 */
function nodeCommand(action: "start" | "stop" | "restart", summary: string, done: string): Command {
  return defineCommand({
    path: [action],
    group: "Orchestration & state",
    dryRun: "plan",
    summary,
    description:
      `${summary[0]!.toUpperCase()}${summary.slice(1)}. The node keeps its port and env; \`devx up\` keeps supervising it.\n` +
      "Exit code 4 when no `devx up` runs or it has no such node, 12 when a started node does not become healthy.",
    examples: [`devx ${action} api`, `devx ${action} api worker --json`],
    options: v.object({
      nodes: variadicArg("the nodes (as `devx ps` names them)", { placeholder: "node", required: true }),
    }),
    async run(opts, deps) {
      const { nodeAction, requireNode } = await import("../../core/up/session.ts");
      const { UnhealthyError } = await import("../../errors.ts");
      const out = [];
      for (const name of opts.nodes) {
        const { node } = await requireNode(deps, name);
        if (deps.global.dryRun) {
          deps.io.err.write(`would ${action} ${name} (now ${node.state}${node.port !== undefined ? `, port ${node.port}` : ""})\n`);
          out.push(node);
          continue;
        }
        const after = (await nodeAction(deps, name, action)) ?? node;
        out.push(after);
        if (action !== "stop" && (after.state === "failed" || after.state === "unhealthy")) {
          throw new UnhealthyError(`${name} did not come back (${after.state}${after.exitCode !== undefined ? `, exit code ${after.exitCode}` : ""})`, `see \`devx logs ${name}\``);
        }
        if (!deps.global.json) deps.io.err.write(`${done} ${name}${action === "stop" ? "" : ` (${after.state}${after.port !== undefined ? ` on port ${after.port}` : ""})`}\n`);
      }
      if (deps.global.json) deps.io.out.write(JSON.stringify({ nodes: out, dryRun: deps.global.dryRun || undefined }) + "\n");
      return 0;
    },
  }) as unknown as Command;
}

export const start = nodeCommand("start", "start a stopped node of the running `devx up`", "started");
export const stop = nodeCommand("stop", "stop one node of the running `devx up`, leaving the others running", "stopped");
export const restart = nodeCommand("restart", "restart one node of the running `devx up` (stop, then start and wait until healthy)", "restarted");
