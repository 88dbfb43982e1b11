import type { DevxEvent, Emit } from "./types.ts";
import { formatBytes, formatDuration } from "./format.ts";
import { painter, rewriteLine } from "../text/style.ts";

export interface RenderTarget {
  write(s: string): void;
  isTTY: boolean;
  color: boolean;
}

/** JSON lines on the given stream (stdout under --json). */
export function jsonLinesRenderer(out: RenderTarget): Emit {
  return (e) => out.write(JSON.stringify({ ts: new Date().toISOString(), ...e }) + "\n");
}

/**
 * Human renderer on stderr. On a TTY a progress event redraws one line with bytes, rate and ETA;
 * otherwise progress is reported at most every 10% so logs stay readable.
 */
export function textRenderer(err: RenderTarget, now: () => number = Date.now): Emit {
  const started = new Map<string, number>();
  const lastPct = new Map<string, number>();
  let progressLine = false;
  const c = painter(err.color);
  const endProgress = () => {
    if (progressLine) err.write("\n");
    progressLine = false;
  };
  return (e: DevxEvent) => {
    switch (e.type) {
      case "progress": {
        if (!started.has(e.id)) started.set(e.id, now());
        const elapsed = Math.max(1, now() - (started.get(e.id) ?? now()));
        // a total is what the use-case expected; never show more done than the whole
        if (e.total !== undefined && e.bytes > e.total) e = { ...e, total: e.bytes };
        const rate = (e.bytes / elapsed) * 1000;
        const pct = e.total ? Math.min(100, (e.bytes / e.total) * 100) : undefined;
        const eta = e.total && rate > 0 ? ((e.total - e.bytes) / rate) * 1000 : NaN;
        const amount = e.total ? `${formatBytes(e.bytes)}/${formatBytes(e.total)}` : formatBytes(e.bytes);
        const tail = `${amount}  ${formatBytes(rate)}/s${pct !== undefined ? `  ETA ${formatDuration(eta)}` : ""}`;
        if (err.isTTY) {
          const width = 24;
          const bar = pct !== undefined ? `[${"#".repeat(Math.round((pct / 100) * width)).padEnd(width, ".")}] ${pct.toFixed(0).padStart(3)}% ` : "";
          err.write(`${rewriteLine}${e.title} ${bar}${tail}`);
          progressLine = true;
        } else {
          const bucket = pct !== undefined ? Math.floor(pct / 10) : Math.floor(e.bytes / 100_000_000);
          if (lastPct.get(e.id) !== bucket) {
            lastPct.set(e.id, bucket);
            err.write(`${e.title}: ${tail}\n`);
          }
        }
        return;
      }
      case "step":
        endProgress();
        if (e.status === "started") err.write(`${c("36", "•")} ${e.title}${e.detail ? ` — ${e.detail}` : ""}\n`);
        else if (e.status === "done") err.write(`${c("32", "✓")} ${e.title}${e.detail ? ` — ${e.detail}` : ""}\n`);
        else if (e.status === "skipped") err.write(`${c("90", "-")} ${e.title} (skipped)${e.detail ? ` — ${e.detail}` : ""}\n`);
        else err.write(`${c("31", "✗")} ${e.title}${e.detail ? ` — ${e.detail}` : ""}\n`);
        return;
      case "warning":
        endProgress();
        err.write(`${c("33", "warning:")} ${e.message}\n${e.hint ? `  ${c("90", "hint:")} ${e.hint}\n` : ""}`);
        return;
      case "info":
        endProgress();
        err.write(`${e.message}\n`);
        return;
      case "log":
        endProgress();
        err.write(`${c("35", e.source.padEnd(10))} | ${e.line}\n`);
        return;
      case "state":
        endProgress();
        err.write(`${c("36", e.node)}: ${e.state}\n`);
        return;
    }
  };
}
