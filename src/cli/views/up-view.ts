import type { DevxEvent, Emit } from "../../events/types.ts";
import type { UpPlan } from "../../core/up/plan.ts";
import type { UpView } from "../../core/up/run-up.ts";
import type { NodeStatus } from "../../core/up/supervisor.ts";
import type { Deps } from "../deps.ts";
import { statusTable } from "./status-table.ts";
import { liveRegion } from "./live-region.ts";

/**
 * How `devx up` is drawn: the dry run's plan (text, or one JSON document with the notes in it), a
 * status table redrawn in place under the scrolling log lines on a terminal, and the final table
 * of --exit-when-healthy. Core's runUp only reports; this decides what it looks like.
 */
export function upView(deps: Deps, opts: { supervisor: boolean }): UpView {
  return {
    plan(plan, notes) {
      if (deps.global.json) return void deps.io.out.write(JSON.stringify({ plan, ...Object.assign({}, ...notes.map((n) => n.json)) }, null, 2) + "\n");
      for (const n of notes) deps.emit({ type: "info", message: n.message });
      deps.io.out.write(planText(plan));
    },
    live: deps.io.err.isTTY && !deps.global.json && !opts.supervisor ? (status) => liveTable(deps, status) : undefined,
    healthy(nodes) {
      if (deps.global.json) deps.io.out.write(JSON.stringify({ nodes }) + "\n");
      else deps.io.out.write(statusTable(nodes, deps.io.color && deps.io.out.isTTY));
    },
  };
}

export function planText(plan: UpPlan): string {
  const out: string[] = ["start order (each node starts as soon as its own dependencies are met):"];
  plan.levels.forEach((l, i) => out.push(`  ${i + 1}. ${l.join(", ")}`));
  for (const n of plan.nodes) {
    const port = n.port === undefined ? "" : n.port !== n.configuredPort ? ` port ${n.port} (configured ${n.configuredPort} is busy)` : ` port ${n.port}`;
    out.push("", `${n.name} [${n.kind === "database" ? "database" : n.runtime}]${port}`);
    if (n.dependsOn.length) out.push(`  depends on: ${n.dependsOn.map((d) => `${d.name} (${d.condition})`).join(", ")}`);
    if (n.healthcheck) out.push(`  health: ${n.healthcheck}`);
    if (n.restart !== "no") out.push(`  restart: ${n.restart}`);
    for (const [k, v] of Object.entries(n.env)) out.push(`  ${k}=${v}`);
  }
  return out.join("\n") + "\n";
}

/** On a TTY: a status table redrawn in place under the scrolling log lines. */
function liveTable(deps: Deps, status: () => NodeStatus[]): { wrap(base: Emit): Emit; stop(): void } {
  const region = liveRegion(deps.io.err);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const clear = () => region.clear();
  const draw = () => {
    timer = undefined;
    region.show(statusTable(status(), deps.io.color));
  };
  const tick = setInterval(draw, 1000);
  return {
    wrap: (base: Emit) => (e: DevxEvent) => {
      if (e.type === "state") {
        timer ??= setTimeout(draw, 30);
        return;
      }
      clear();
      base(e);
      draw();
    },
    stop: () => {
      clearInterval(tick);
      if (timer) clearTimeout(timer);
      draw();
    },
  };
}
