import * as v from "valibot";
import { defineCommand, flag, list, optionalArg } from "../../define.ts";
import { ALLOW, parseAllow } from "../../../core/state/guard/allow.ts";
import { UsageError } from "../../../errors.ts";
import type { Deps } from "../../deps.ts";
import { plural } from "../../../events/format.ts";

export default defineCommand({
  path: ["state", "attach"],
  group: "Orchestration & state",
  dryRun: "plan",
  summary: "download a shared environment, verify it, and apply it here (with automatic rollback)",
  description:
    "Downloads the bundle, decrypts and authenticates all of it and checks its manifest before anything local is\n" +
    "touched. Then shows the plan (containers stopped, replaced, started; volumes replaced), asks to confirm (-y\n" +
    "without a terminal), takes a restore point, applies and verifies. Any failure rolls back to the restore point;\n" +
    "`devx state undo` returns to it after success. Exit codes: 10 wrong passphrase, 9 tampered, 11 truncated,\n" +
    "8 relay unreachable, 2 malformed share ID, 6 the bundle asks for something you did not --allow.\n" +
    "A bundle only ever replaces this project's devx containers and volumes. What it would do beyond that — a\n" +
    "privileged container, host directories mounted, extra capabilities, host namespaces, devices, ports on other\n" +
    "addresses than 127.0.0.1, other networks, setuid files — is shown in the plan and refused unless named with\n" +
    "--allow.\n" +
    "The share ID holds the passphrase: to keep it out of the process list (argv), pass `-` and pipe it on stdin,\n" +
    "or leave the argument out and set DEVX_SHARE_ID.",
  examples: ["devx state attach 's3://team-bucket/devx/mfrggzdfmztwq2lknnwg23tpoa.devx:radar-muscular-duller-encounter'", "devx state attach --dry-run '<share-id>'", "devx state attach -y --db-only '<share-id>'", "pbpaste | devx state attach -y -"],
  options: v.object({
    shareId: optionalArg("the share ID printed by `devx state share`; `-` reads it from stdin (default: $DEVX_SHARE_ID)", { placeholder: "share-id" }),
    dbOnly: flag("apply the database volumes only, even from a full bundle"),
    allow: list(`let the bundle do what is refused by default (comma-separated or repeated): ${Object.keys(ALLOW).join(", ")}`, { placeholder: "what" }),
  }),
  async run(opts, deps) {
    const { planOnce, stateDeps } = await import("./state-deps.ts");
    const { attach } = await import("../../../core/state/share.ts");
    const { describePlan } = await import("../../../core/state/apply.ts");
    const { sd, confirm } = planOnce(await stateDeps(deps), deps);
    const shareId = await resolveShareId(opts.shareId, deps);
    const { RefusedPlanError } = await import("../../../core/state/restore.ts");
    const r = await attach(sd, { shareId, dbOnly: opts.dbOnly, allow: parseAllow(opts.allow), dryRun: deps.global.dryRun, confirm }).catch((e: unknown) => {
      // a dry run shows the plan it refused, as the real run does before its error
      if (deps.global.dryRun && e instanceof RefusedPlanError) deps.io.err.write(`${e.title}, refused (--dry-run, nothing changed):\n${describePlan(e.plan).join("\n")}\n`);
      throw e;
    });
    if (deps.global.json) {
      deps.io.out.write(JSON.stringify({ applied: r.applied, mode: r.mode, source: { created: r.manifest.created, host: r.manifest.host, project: r.manifest.project }, plan: r.plan, restorePoint: r.restorePoint }, null, 2) + "\n");
      return 0;
    }
    if (!r.applied) deps.io.out.write(`plan (${r.mode}), nothing changed (--dry-run):\n${describePlan(r.plan).join("\n")}\n`);
    else deps.io.out.write(`attached (${r.mode}): ${plural(r.plan.restore.length, "container")} restored, ${plural(r.plan.volumes.length, "volume")} replaced\nundo with: devx state undo\n`);
    return 0;
  },
});

/** The share ID from the argument, stdin (`-`, first non-empty line) or $DEVX_SHARE_ID, in that order. */
async function resolveShareId(arg: string | undefined, deps: Deps): Promise<string> {
  if (arg && arg !== "-") return arg;
  if (arg === "-") {
    const text = (await deps.io.readStdin()) ?? (await deps.io.readLine("share ID: "));
    const line = text?.split("\n").map((l) => l.trim()).find((l) => l.length > 0);
    if (!line) throw new UsageError("no share ID on stdin", "pipe the share ID printed by `devx state share` into `devx state attach -`");
    return line;
  }
  const env = deps.env.DEVX_SHARE_ID?.trim();
  if (env) return env;
  throw new UsageError("missing share ID", "pass the share ID printed by `devx state share`, pipe it with `-`, or set DEVX_SHARE_ID");
}
