import type { DevxEvent } from "../../src/events/types.ts";
import type { LogEntry } from "../types.ts";

/**
 * The Logs pane's memory: events from use-cases the dashboard runs and what the dashboard itself
 * did (commands from the palette, failed loads). Bounded, so a chatty stream cannot grow the heap.
 */
export class LogStore {
  private entries: LogEntry[] = [];
  private subs = new Set<() => void>();
  constructor(
    private readonly limit = 500,
    private readonly now: () => number = Date.now,
  ) {}

  add(source: string, line: string, level: LogEntry["level"] = "info"): void {
    this.entries.push({ at: this.now(), source, line, level });
    if (this.entries.length > this.limit) this.entries.splice(0, this.entries.length - this.limit);
    for (const s of this.subs) s();
  }

  /** the events renderer for the dashboard: every DevxEvent becomes one line */
  emit = (e: DevxEvent): void => {
    switch (e.type) {
      case "step":
        return this.add(e.id, `${e.title}: ${e.status}${e.detail ? ` (${e.detail})` : ""}`, e.status === "failed" ? "error" : "info");
      case "progress":
        return; // per-chunk progress would flood the pane; the step lines carry the outcome
      case "warning":
        return this.add("warning", e.hint ? `${e.message} (${e.hint})` : e.message, "warn");
      case "info":
        return this.add("info", e.message);
      case "log":
        return this.add(e.source, e.line, e.stream === "stderr" ? "warn" : "info");
      case "state":
        return this.add(e.node, e.state);
    }
  };

  list(): readonly LogEntry[] {
    return this.entries;
  }

  subscribe(fn: () => void): () => void {
    this.subs.add(fn);
    return () => this.subs.delete(fn);
  }
}
