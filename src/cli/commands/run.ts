import * as v from "valibot";
import { defineCommand, variadicArg } from "../define.ts";

export default defineCommand({
  path: ["run"],
  group: "Orchestration & state",
  dryRun: "plan",
  summary: "run one command with everything devx knows injected (database, service and bridge env)",
  description:
    "Injects devx.yaml's top-level env:, the connection env of the project's databases, the <NAME>_URL/_HOST/_PORT\n" +
    "of a running `devx up`, and the bridge env, then runs the command in your environment and exits with its exit\n" +
    "code. With --dry-run it prints the command and the injected variables (secrets masked) and runs nothing.",
  examples: ["devx run -- npm test", "devx run -- sh -c 'echo $API_URL'", "devx run --dry-run -- npm test"],
  options: v.object({
    command: variadicArg("the command and its arguments (after --)", { placeholder: "cmd", required: true }),
  }),
  async run(opts, deps) {
    const { collectEnv, maskEnv } = await import("../../core/up/env.ts");
    const { env, sources } = await collectEnv(deps);
    if (deps.global.dryRun) {
      const shown = { argv: opts.command, sources: sources.map((x) => x.source), env: maskEnv(env) };
      const q = (w: string) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);
      deps.io.out.write(deps.global.json ? JSON.stringify({ plan: shown }, null, 2) + "\n" : `would run: ${opts.command.map(q).join(" ")}\n${Object.entries(shown.env).map(([k, x]) => `  ${k}=${x}\n`).join("") || "  (no env to inject: no database, no running devx up, no bridge)\n"}`);
      return 0;
    }
    const r = await deps.exec.run(opts.command, { env, inherit: true, cwd: deps.cwd, signal: deps.signal, userEnv: true });
    return r.code;
  },
});
