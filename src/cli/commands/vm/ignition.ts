import * as v from "valibot";
import { defineCommand, flag, option } from "../../define.ts";
import { writeFileAtomic } from "../../../platform/atomic.ts";
import { quiet, vmFlags } from "./shared.ts";

export default defineCommand({
  path: ["vm", "ignition"],
  group: "Local infrastructure",
  dryRun: "plan",
  summary: "print the machine configuration `vm init` would use (Ignition for podman machine)",
  description:
    "Prints the Ignition 3.3.0 config (podman machine) or the provider's native provisioning (lima.yaml,\n" +
    "colima.yaml, OrbStack user-data). Secrets are masked on stdout; -o writes the real values to a 0600 file\n" +
    "when --reveal-secrets is given.",
  examples: ["devx vm ignition | ignition-validate -", "devx vm ignition -o devx.ign --reveal-secrets"],
  options: v.object({
    ...vmFlags,
    output: option("write to this file (mode 0600) instead of stdout", { short: "o", placeholder: "file", complete: "files" }),
    revealSecrets: flag("fill in the real tunnel token and Tailscale key (only with -o)"),
  }),
  async run(opts, deps) {
    const { vmIgnition } = await import("../../../core/vm/lifecycle.ts");
    const { UsageError } = await import("../../../errors.ts");
    if (opts.revealSecrets && !opts.output) throw new UsageError("--reveal-secrets writes secrets, so it needs -o <file>", "add -o devx.ign (written with mode 0600)");
    const r = await vmIgnition(quiet(deps), { dryRun: deps.global.dryRun, provider: opts.provider, name: opts.name, reveal: opts.revealSecrets });
    if (opts.output && deps.global.dryRun) {
      deps.io.out.write(`would write the ${r.kind} config to ${opts.output} (mode 0600${opts.revealSecrets ? ", secrets included" : ", secrets masked"})\n`);
      return;
    }
    if (opts.output) {
      await writeFileAtomic(opts.output, r.text, 0o600);
      deps.io.err.write(`wrote ${r.kind} config to ${opts.output}${opts.revealSecrets ? "" : " (secrets masked)"}\n`);
      return;
    }
    deps.io.out.write(r.text);
  },
});
