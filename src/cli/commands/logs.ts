import * as v from "valibot";
import { defineCommand, flag, option, variadicArg } from "../define.ts";
import { UsageError } from "../../errors.ts";

export default defineCommand({
  path: ["logs"],
  group: "Orchestration & state",
  dryRun: "read-only",
  summary: "show the output of `devx up` nodes, prefixed and coloured per node",
  description:
    "Reads the per-node log files under the state dir (rotated at 5 MiB, one old generation kept). Container nodes'\n" +
    "output is captured into the same files. Lines from several nodes are merged in time order.",
  examples: ["devx logs", "devx logs api worker --follow", "devx logs --since 5m --grep 'ERROR|WARN'"],
  options: v.object({
    nodes: variadicArg("only these nodes", { placeholder: "node", complete: "nodes" }),
    follow: flag("keep printing new lines until Ctrl-C (-f is --file, as everywhere)", { short: "F" }),
    since: option("only lines newer than this (a duration like 10m, or an ISO time)", { placeholder: "10m" }),
    grep: option("only lines matching this regular expression", { placeholder: "regex" }),
  }),
  async run(opts, deps) {
    const { readLogs, followLogs, logDir, logNodes, formatLogLine } = await import("../../core/up/logs.ts");
    const { projectName } = await import("../../core/up/session.ts");
    const { parseDuration } = await import("../../config/duration.ts");
    const { NotFoundError } = await import("../../errors.ts");
    const loaded = await deps.config();
    const dir = logDir(deps.paths.state, projectName(loaded));
    const known = (await logNodes(dir)).filter((n) => n !== "supervisor");
    for (const n of opts.nodes) if (!known.includes(n)) throw new NotFoundError(`no logs for "${n}"`, known.length ? `nodes with logs: ${known.join(", ")}` : "run `devx up` first");
    const nodes = opts.nodes.length ? opts.nodes : known;
    let sinceMs: number | undefined;
    if (opts.since) {
      const d = parseDuration(opts.since);
      sinceMs = d !== undefined ? Date.now() - d : Date.parse(opts.since);
      if (Number.isNaN(sinceMs)) throw new UsageError(`--since: expected a duration like 10m or an ISO time, got "${opts.since}"`, "e.g. --since 5m");
    }
    let grep: RegExp | undefined;
    try {
      grep = opts.grep ? new RegExp(opts.grep) : undefined;
    } catch {
      throw new UsageError(`--grep: "${opts.grep}" is not a valid regular expression`, "quote it for the shell, e.g. --grep 'ERROR|WARN'");
    }
    const filter = { sinceMs, grep };
    const width = Math.max(0, ...nodes.map((n) => n.length));
    const color = deps.io.color && deps.io.out.isTTY;
    const print = (l: { node: string; time: string; stream: string; text: string }) =>
      deps.io.out.write(deps.global.json ? JSON.stringify(l) + "\n" : formatLogLine(l, width, color, nodes.indexOf(l.node)) + "\n");
    for (const l of await readLogs(dir, nodes, filter)) print(l);
    if (opts.follow) await followLogs(dir, nodes, filter, print, deps.signal);
    return 0;
  },
});
