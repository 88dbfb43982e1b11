import * as v from "valibot";
import { defineCommand, flag, number, option } from "../../define.ts";
import { formatBytes } from "../../../events/format.ts";

export default defineCommand({
  path: ["state", "share"],
  group: "Orchestration & state",
  dryRun: "plan",
  summary: "checkpoint the running environment and share it, encrypted, through the team's bucket",
  description:
    "Checkpoints the running devx-managed containers (CRIU, podman as root) and their volumes, bundles them with a\n" +
    "manifest, compresses, encrypts (AES-256-GCM, key from a fresh passphrase) and uploads to the relay. Prints the\n" +
    "share ID <relay>/<object>:<passphrase> and the attach command. Where checkpoints cannot be taken (docker,\n" +
    "nerdctl, `criu check` failing) or with --db-only, only database volumes are shared. The relay only ever sees\n" +
    "ciphertext; the passphrase is printed once and stored nowhere.",
  examples: ["devx state share", "devx state share --db-only --relay s3://team-bucket/devx", "devx state share --json | jq -r .id"],
  options: v.object({
    dbOnly: flag("share database volumes only, without container checkpoints"),
    relay: option("relay URI: s3://bucket/prefix, gs://bucket/prefix or file:///dir (default: state.relay)", { placeholder: "uri" }),
    words: number("passphrase length in words (default 4, ≈51.7 bits)", { placeholder: "n", min: 3, max: 24 }),
  }),
  async run(opts, deps) {
    const { stateDeps, relayUri } = await import("./state-deps.ts");
    const { share } = await import("../../../core/state/share.ts");
    const sd = await stateDeps(deps);
    const cfg = (await deps.findConfig())?.config.state;
    if (deps.global.dryRun) {
      const { planLines, selectionPlan } = await import("./plan-text.ts");
      const plan = { relay: await relayUri(deps, opts.relay, { dryRun: true, emit: sd.emit }), ...(await selectionPlan(sd, { dbOnly: opts.dbOnly })) };
      deps.io.out.write(deps.global.json ? JSON.stringify(plan, null, 2) + "\n" : `would share (${plan.mode}) to ${plan.relay}:\n${planLines(plan).join("\n")}\n`);
      return 0;
    }
    const r = await share(sd, { relay: await relayUri(deps, opts.relay, { dryRun: false, emit: sd.emit }), dbOnly: opts.dbOnly, words: opts.words ?? cfg?.words, level: cfg?.compression_level ?? 1 });
    if (deps.global.json) {
      deps.io.out.write(JSON.stringify(r, null, 2) + "\n");
      return 0;
    }
    deps.io.out.write(`share ID (${r.mode}, ${formatBytes(r.bytes)}):\n  ${r.id}\n\nyour teammate runs:\n  devx state attach '${r.id}'\n(or, to keep the passphrase out of the process list: paste it into \`devx state attach -\`)\n`);
    deps.io.err.write("The ID contains the passphrase: send it over a private channel.\n");
    return 0;
  },
});
