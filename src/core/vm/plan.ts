import { mkdir } from "node:fs/promises";
import { writeFileAtomic } from "../../platform/atomic.ts";
import { execCheck, type Exec } from "../../platform/exec.ts";
import type { Emit } from "../../events/types.ts";

/**
 * A plan is the ordered list of steps a command runs. `--dry-run` prints `describe()` of each step;
 * a real run executes the very same list, so the printed commands are exactly the ones run.
 */
export type PlanStep =
  | { kind: "exec"; title: string; argv: string[] }
  | { kind: "write"; title: string; path: string; mode: number; contents: () => string; masked: () => string }
  | { kind: "mkdir"; title: string; path: string; mode: number }
  | { kind: "api"; title: string; request: string; run: () => Promise<void> };

export type StepView =
  | { kind: "exec"; title: string; argv: string[] }
  | { kind: "write"; title: string; path: string; mode: string; contents: string }
  | { kind: "mkdir"; title: string; path: string; mode: string }
  | { kind: "api"; title: string; request: string };

export function describe(step: PlanStep): StepView {
  if (step.kind === "exec") return { kind: "exec", title: step.title, argv: step.argv };
  if (step.kind === "write") return { kind: "write", title: step.title, path: step.path, mode: step.mode.toString(8).padStart(4, "0"), contents: step.masked() };
  if (step.kind === "mkdir") return { kind: "mkdir", title: step.title, path: step.path, mode: step.mode.toString(8).padStart(4, "0") };
  return { kind: "api", title: step.title, request: step.request };
}

export function shellQuote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

export async function executePlan(steps: PlanStep[], deps: { exec: Exec; emit: Emit; signal?: AbortSignal }, hint: string): Promise<void> {
  for (const [i, s] of steps.entries()) {
    const id = `step-${i}`;
    deps.emit({ type: "step", id, title: s.title, status: "started", detail: s.kind === "exec" ? s.argv.join(" ") : undefined });
    try {
      if (s.kind === "exec") await execCheck(deps.exec, s.argv, { signal: deps.signal }, hint);
      else if (s.kind === "write") await writeFileAtomic(s.path, s.contents(), s.mode);
      else if (s.kind === "mkdir") await mkdir(s.path, { recursive: true, mode: s.mode });
      else await s.run();
    } catch (e) {
      deps.emit({ type: "step", id, title: s.title, status: "failed" });
      throw e;
    }
    deps.emit({ type: "step", id, title: s.title, status: "done" });
  }
}
