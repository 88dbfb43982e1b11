import * as v from "valibot";
import { defineCommand, variadicArg } from "../../define.ts";
import { vmFlags } from "./shared.ts";

export default defineCommand({
  path: ["vm", "ssh"],
  group: "Local infrastructure",
  dryRun: "plan",
  summary: "open a shell in the VM, or run one command there",
  examples: ["devx vm ssh", "devx vm ssh -- sudo journalctl -u devx-cloudflared -f"],
  options: v.object({ ...vmFlags, command: variadicArg("command to run in the VM (after --)", { placeholder: "command" }) }),
  async run(opts, deps) {
    const { vmSsh } = await import("../../../core/vm/lifecycle.ts");
    const ssh = await vmSsh(deps, { ...opts, dryRun: deps.global.dryRun });
    if (!deps.global.dryRun) return ssh.run();
    deps.io.out.write(ssh.argv.join(" ") + "\n");
    return 0;
  },
});
