import * as v from "valibot";
import { arg, defineCommand, flag, type Group } from "../../define.ts";
import type { SnapshotKind } from "../../../core/state/local.ts";
import { formatBytes, plural } from "../../../events/format.ts";
import { planLines, selectionPlan } from "./plan-text.ts";

/**
 * `devx state checkpoint|restore|list|rm` and `devx db snapshot create|restore|list|rm` are the
 * same operations on two kinds of local snapshot: full checkpoints and database-only snapshots.
 */
interface Kind {
  kind: SnapshotKind;
  path: string[];
  group: Group;
  noun: string;
  listCmd: string;
}

export const CHECKPOINT: Kind = { kind: "checkpoint", path: ["state"], group: "Orchestration & state", noun: "checkpoint", listCmd: "devx state list" };
export const DB_SNAPSHOT: Kind = { kind: "db-snapshot", path: ["db", "snapshot"], group: "Local infrastructure", noun: "database snapshot", listCmd: "devx db snapshot list" };

const completeNames = (k: Kind): "checkpoints" | "db-snapshots" => (k.kind === "checkpoint" ? "checkpoints" : "db-snapshots");
const createOptions = () => v.object({ name: arg("name"), force: flag(""), dbOnly: flag("") });
const restoreOptions = () => v.object({ name: arg("name"), dbOnly: flag("") });


export function createCommand(k: Kind, verb: string) {
  const full = k.kind === "checkpoint";
  return defineCommand({
    path: [...k.path, verb],
    group: k.group,
    dryRun: "plan",
    summary: full ? "checkpoint the running devx-managed containers and their volumes under a name" : "snapshot the database volumes under a name",
    description: full
      ? "CRIU checkpoints of every running devx-managed container (memory included) and a tar of each volume, under\nthe state directory. Containers that mount volumes are stopped for the instant of the capture and resumed from\ntheir checkpoint. Without a working CRIU, only database volumes are captured (with a warning)."
      : "A tar of each database volume (devx.kind=database, or mounted by a database container). The containers using\nthem are stopped during the export and started again.",
    examples: [`devx ${[...k.path, verb].join(" ")} before-migration`],
    // db snapshots are db-only by definition: the flag exists only on `state checkpoint`
    options: (full
      ? v.object({ name: arg(`${k.noun} name`, { placeholder: "name" }), force: flag(`overwrite an existing ${k.noun} with that name`), dbOnly: flag("capture database volumes only") })
      : v.object({ name: arg(`${k.noun} name`, { placeholder: "name" }), force: flag(`overwrite an existing ${k.noun} with that name`) })) as ReturnType<typeof createOptions>,
    async run(opts, deps) {
      const { stateDeps } = await import("./state-deps.ts");
      const { createSnapshot } = await import("../../../core/state/local.ts");
      const sd = await stateDeps(deps);
      if (deps.global.dryRun) {
        const plan = await selectionPlan(sd, { kind: k.kind, name: opts.name, force: opts.force, dbOnly: opts.dbOnly });
        deps.io.out.write(deps.global.json ? JSON.stringify({ plan }, null, 2) + "\n" : `would ${full ? "checkpoint" : "snapshot"} (${plan.mode}) as ${k.noun} ${opts.name}:\n${planLines(plan).join("\n")}\n`);
        return 0;
      }
      const s = await createSnapshot(sd, k.kind, opts.name, { force: opts.force, dbOnly: opts.dbOnly });
      deps.io.out.write(deps.global.json ? JSON.stringify(s, null, 2) + "\n" : `${k.noun} ${s.name} (${s.mode}, ${formatBytes(s.bytes)}): ${plural(s.containers.length, "container")}, ${plural(s.volumes.length, "volume")}\n`);
      return 0;
    },
  });
}

export function restoreCommand(k: Kind) {
  return defineCommand({
    path: [...k.path, "restore"],
    group: k.group,
    dryRun: "plan",
    summary: `return to a ${k.noun} (restore point first, automatic rollback)`,
    description: "Shows the plan, asks to confirm (-y without a terminal), takes a restore point, applies and verifies; any\nfailure rolls back. `devx state undo` returns to the restore point.",
    examples: [`devx ${[...k.path, "restore"].join(" ")} before-migration -y`],
    options: (k.kind === "checkpoint"
      ? v.object({ name: arg(`${k.noun} name`, { placeholder: "name", complete: completeNames(k) }), dbOnly: flag("apply the database volumes only") })
      : v.object({ name: arg(`${k.noun} name`, { placeholder: "name", complete: completeNames(k) }) })) as ReturnType<typeof restoreOptions>,
    async run(opts, deps) {
      const { planOnce, stateDeps } = await import("./state-deps.ts");
      const { restoreSnapshot } = await import("../../../core/state/local.ts");
      const { describePlan } = await import("../../../core/state/apply.ts");
      const { sd, confirm } = planOnce(await stateDeps(deps), deps);
      const r = await restoreSnapshot(sd, k.kind, opts.name, { dryRun: deps.global.dryRun, confirm, dbOnly: opts.dbOnly });
      if (deps.global.json) deps.io.out.write(JSON.stringify({ applied: r.applied, plan: r.plan, restorePoint: r.restorePoint }, null, 2) + "\n");
      else if (!r.applied) deps.io.out.write(`plan, nothing changed (--dry-run):\n${describePlan(r.plan).join("\n")}\n`);
      else deps.io.out.write(`restored ${k.noun} ${opts.name}; undo with: devx state undo\n`);
      return 0;
    },
  });
}

export function listCommand(k: Kind) {
  return defineCommand({
    path: [...k.path, "list"],
    group: k.group,
    dryRun: "read-only",
    summary: `list ${k.noun}s${k.kind === "checkpoint" ? ", restore points and recent shares" : ""}`,
    options: v.object({}),
    async run(_opts, deps) {
      const { listSnapshots } = await import("../../../core/state/local.ts");
      const all = await listSnapshots({ stateDir: deps.paths.state });
      const items = k.kind === "checkpoint" ? all.checkpoints : all.dbSnapshots;
      const { textRenderer } = await import("../../../events/render.ts");
      const warn = textRenderer({ write: (x) => deps.io.err.write(x), isTTY: false, color: deps.io.color });
      for (const line of all.interrupted) warn({ type: "warning", message: line, hint: "`devx state recover` finishes it (any state command does too)" });
      if (all.leftoverBytes > 0) warn({ type: "warning", message: `${formatBytes(all.leftoverBytes)} left behind by interrupted runs`, hint: "`devx state recover` reclaims it" });
      if (deps.global.json) {
        deps.io.out.write(JSON.stringify(k.kind === "checkpoint" ? { checkpoints: items, restorePoints: all.restorePoints.map(({ dir: _d, ...r }) => r), shares: all.shares, interrupted: all.interrupted, leftoverBytes: all.leftoverBytes } : { snapshots: items }, null, 2) + "\n");
        return 0;
      }
      const lines = items.map((s) => `${s.name.padEnd(24)} ${s.created.slice(0, 19).replace("T", " ")}  ${s.mode.padEnd(7)}  ${formatBytes(s.bytes).padStart(10)}  ${plural(s.containers.length, "container")}, ${s.volumes.join(", ") || "no volumes"}`);
      deps.io.out.write(lines.length ? `${"NAME".padEnd(24)} ${"CREATED".padEnd(19)}  ${"MODE".padEnd(7)}  ${"SIZE".padStart(10)}  CONTENT\n${lines.join("\n")}\n` : `no ${k.noun}s (create one with \`devx ${[...k.path, k.kind === "checkpoint" ? "checkpoint" : "create"].join(" ")} <name>\`)\n`);
      if (k.kind === "checkpoint" && all.restorePoints.length) deps.io.out.write(`\nrestore points (newest first, \`devx state undo\`; \`devx state prune\` removes old ones):\n${all.restorePoints.map((r) => `  ${r.name}  ${formatBytes(r.bytes).padStart(10)}  before ${r.source}`).join("\n")}\n`);
      if (k.kind === "checkpoint" && all.shares.length) deps.io.out.write(`\nrecent shares:\n${all.shares.slice(0, 10).map((s) => `  ${s.created.slice(0, 19).replace("T", " ")}  ${s.mode.padEnd(7)}  ${s.relay}/${s.object}`).join("\n")}\n`);
      return 0;
    },
  });
}

export function rmCommand(k: Kind) {
  return defineCommand({
    path: [...k.path, "rm"],
    group: k.group,
    dryRun: "plan",
    summary: `remove a ${k.noun}`,
    options: v.object({ name: arg(`${k.noun} name`, { placeholder: "name", complete: completeNames(k) }) }),
    async run(opts, deps) {
      const { findSnapshot, removeSnapshot } = await import("../../../core/state/local.ts");
      // a name that does not exist is an error before any question or plan
      const found = await findSnapshot(deps.paths.state, k.kind, opts.name);
      if (deps.global.dryRun) {
        deps.io.out.write(`would remove ${k.noun} ${opts.name} (${formatBytes(found.bytes)})\n`);
        return 0;
      }
      await deps.confirm(`Remove ${k.noun} ${opts.name}?`);
      await removeSnapshot(deps.paths.state, k.kind, opts.name);
      deps.io.out.write(deps.global.json ? JSON.stringify({ removed: opts.name }) + "\n" : `removed ${k.noun} ${opts.name}\n`);
      return 0;
    },
  });
}
