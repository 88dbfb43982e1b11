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

/** Rows under a header, columns padded to their widest cell, two spaces apart. */
export function columns(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  return all.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd()).join("\n") + "\n";
}
