import * as v from "valibot";
import { defineCommand } from "../../define.ts";

export default defineCommand({
  path: ["bridge", "env"],
  group: "Kubernetes & hybrid",
  dryRun: "read-only",
  summary: "print BRIDGE_<SVC>_URL/_HOST/_PORT of live forwards as export lines (or --json)",
  examples: ['eval "$(devx bridge env)"', "devx bridge env --json"],
  options: v.object({}),
  async run(_opts, deps) {
    const { readBridgeEnv } = await import("../../../core/bridge/env.ts");
    const env = await readBridgeEnv(deps);
    if (deps.global.json) {
      deps.io.out.write(JSON.stringify(env, null, 2) + "\n");
      return 0;
    }
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    deps.io.out.write(Object.entries(env).map(([k, val]) => `export ${k}=${q(val)}\n`).join(""));
    if (!Object.keys(env).length) deps.io.err.write("no live forwards; start one with `devx bridge connect -t <service>`\n");
    return 0;
  },
});
