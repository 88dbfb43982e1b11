import { eraseLinesAbove } from "../../text/style.ts";

/**
 * A block of lines redrawn in place at the bottom of a terminal stream (the live tables of `up` and
 * `bridge`): `show` replaces the block, `clear` removes it so a log line can scroll above it.
 * Without a terminal nothing is erased: each `show` simply appends.
 */
export function liveRegion(out: { write(s: string): void; isTTY: boolean }): { show(text: string): void; clear(): void } {
  let lines = 0;
  const clear = () => {
    if (out.isTTY) out.write(eraseLinesAbove(lines));
    lines = 0;
  };
  return {
    clear,
    show(text) {
      clear();
      const block = text.endsWith("\n") ? text : text + "\n";
      out.write(block);
      lines = block.split("\n").length - 1;
    },
  };
}

/**
 * Rows under a header, columns padded to their widest cell, two spaces apart. `paint` may colour a
 * body cell after padding (widths are measured on the plain text).
 */
export function columns(header: string[], rows: string[][], paint?: (padded: string, row: string[], col: number) => string): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  const line = (r: string[], body: boolean) => r.map((c, i) => (body && paint ? paint(c.padEnd(widths[i]!), r, i) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(header, false), ...rows.map((r) => line(r, true))].join("\n") + "\n";
}
