import * as v from "valibot";
import { plural } from "../../events/format.ts";
import { defineCommand } from "../define.ts";

export default defineCommand({
  path: ["shell"],
  group: "Orchestration & state",
  dryRun: "plan",
  summary: "open your shell (or the devcontainer) with database, service and bridge env injected",
  description:
    "Injects the connection env of the project's databases, the <NAME>_URL/_HOST/_PORT of a running `devx up` and\n" +
    "the bridge env, then starts $SHELL (or /bin/sh). When .devcontainer/devcontainer.json names an image, the shell\n" +
    "runs in that image through the container runtime, with the project mounted and host networking. DEVX_SHELL=1\n" +
    "is set inside. The shell's exit code is passed through.",
  examples: ["devx shell", "devx shell --dry-run"],
  options: v.object({}),
  async run(_opts, deps) {
    const { collectEnv, maskEnv } = await import("../../core/up/env.ts");
    const { planShell } = await import("../../core/up/shell.ts");
    const { env, sources } = await collectEnv(deps);
    const plan = await planShell(deps, env);
    if (deps.global.dryRun) {
      const shown = { kind: plan.kind, argv: plan.argv, sources: sources.map((s) => s.source), env: maskEnv(env) };
      deps.io.out.write(deps.global.json ? JSON.stringify(shown, null, 2) + "\n" : `${plan.argv.join(" ")}\n${Object.entries(shown.env).map(([k, x]) => `  ${k}=${x}`).join("\n")}\n`);
      return 0;
    }
    deps.io.err.write(`devx shell (${plan.kind}): ${plural(plan.injected.length, "variable")} injected from ${sources.map((s) => s.source).join(", ") || "nothing running"}; exit to leave\n`);
    // a host shell is the user's own; a devcontainer's `podman run` is a helper that passes only the injected names
    const r = await deps.exec.run(plan.argv, { env: plan.env, inherit: true, cwd: plan.cwd, userEnv: plan.kind === "host" });
    return r.code;
  },
});
