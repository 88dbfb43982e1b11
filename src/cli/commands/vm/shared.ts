import { choice, option } from "../../define.ts";
import type { Deps } from "../../deps.ts";
import { noEmit } from "../../../events/types.ts";
import type { PlanResult } from "../../../core/vm/lifecycle.ts";
import { shellQuote as q } from "../../../core/vm/plan.ts";

/** Flags every vm command takes: which provider, which VM (default: vm.name from devx.yaml). */
export const vmFlags = {
  provider: choice("VM provider (default: DEVX_PROVIDER, then your user config, then devx.yaml vm.provider, then the one installed)", ["auto", "podman", "lima", "colima", "docker-desktop", "orbstack"] as const),
  name: option("VM name (default: vm.name in devx.yaml, $DEVX_VM, or devx)", { placeholder: "name" }),
};

/** Under --json stdout carries one document, so progress events are not rendered there. */
export function quiet(deps: Deps): Deps {
  return deps.global.json ? { ...deps, emit: noEmit } : deps;
}

export function printPlan(deps: Deps, r: PlanResult, done: string): void {
  if (deps.global.json) {
    deps.io.out.write(JSON.stringify(r, null, 2) + "\n");
    return;
  }
  for (const w of r.warnings) deps.io.err.write(`note: ${w.feature}: ${w.reason}\n`);
  if (r.noop) {
    deps.io.out.write(`${r.noop}\n`);
    return;
  }
  if (r.dryRun) {
    const lines = r.steps.map((s) => (s.kind === "exec" ? s.argv.map(q).join(" ") : s.kind === "mkdir" ? `mkdir -p -m ${s.mode} ${q(s.path)}` : s.kind === "write" ? `# write ${s.path} (mode ${s.mode}): ${s.title}` : `# cloudflare ${s.request}: ${s.title}`));
    deps.io.out.write(lines.join("\n") + (lines.length ? "\n" : ""));
    return;
  }
  deps.io.out.write(`${done}\n`);
}

