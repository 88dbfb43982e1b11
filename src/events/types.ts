/**
 * Progress and status events emitted by use-cases. Three renderers subscribe: text (progress bars
 * on a TTY, plain lines otherwise), JSON lines (--json) and the TUI.
 */
export type DevxEvent =
  | { type: "step"; id: string; title: string; status: "started" | "done" | "skipped" | "failed"; detail?: string }
  | { type: "progress"; id: string; title: string; bytes: number; total?: number }
  | { type: "warning"; message: string; hint?: string }
  | { type: "info"; message: string }
  | { type: "log"; source: string; line: string; stream?: "stdout" | "stderr" }
  | { type: "state"; node: string; state: string; detail?: Record<string, unknown> };

export type Emit = (event: DevxEvent) => void;

/** A tiny fan-out bus: use-cases call emit(), renderers subscribe. */
export class EventBus {
  private subs = new Set<Emit>();
  emit: Emit = (event) => {
    for (const s of this.subs) s(event);
  };
  subscribe(fn: Emit): () => void {
    this.subs.add(fn);
    return () => this.subs.delete(fn);
  }
}

export const noEmit: Emit = () => {};
