import * as v from "valibot";
import { defineCommand, variadicArg } from "../define.ts";

export default defineCommand({
  path: ["run"],
  group: "Orchestration & state",
  summary: "run one command with everything devx knows injected (database, service and bridge env)",
  description:
    "Injects the connection env of the project's databases, the <NAME>_URL/_HOST/_PORT of a running `devx up`,\n" +
    "and the bridge env, then runs the command and exits with its exit code.",
  examples: ["devx run -- npm test", "devx run -- sh -c 'echo $API_URL'"],
  options: v.object({
    command: variadicArg("the command and its arguments (after --)", { placeholder: "cmd", required: true }),
  }),
  async run(opts, deps) {
    const { collectEnv } = await import("../../core/up/env.ts");
    const { env } = await collectEnv(deps);
    const r = await deps.exec.run(opts.command, { env, inherit: true, cwd: deps.cwd, signal: deps.signal, userEnv: true });
    return r.code;
  },
});
