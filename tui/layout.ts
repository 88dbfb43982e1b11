import type { Column, Row } from "./types.ts";

/** Cut to w cells with an ellipsis; pad to exactly w so columns line up without borders. */
export function fit(s: string, w: number): string {
  if (w <= 0) return "";
  const flat = s.replace(/\s+/g, " ");
  if (flat.length > w) return w === 1 ? "…" : flat.slice(0, w - 1) + "…";
  return flat.padEnd(w);
}

const GAP = 2;

/**
 * Column widths for the space available: each column takes what its widest cell needs, then the
 * widest columns give up space first until the table fits (never below a readable minimum).
 */
export function columnWidths(columns: Column[], rows: Row[], width: number): number[] {
  const widths = columns.map((c) => c.width ?? Math.max(c.title.length, ...rows.map((r) => (r.cells[c.key] ?? "").length)));
  const budget = width - GAP * Math.max(0, columns.length - 1);
  let total = widths.reduce((a, b) => a + b, 0);
  while (total > budget) {
    let widest = 0;
    for (let i = 1; i < widths.length; i++) if (widths[i]! > widths[widest]!) widest = i;
    if (widths[widest]! <= 6) break;
    const over = total - budget;
    const second = Math.max(6, ...widths.filter((_, i) => i !== widest));
    const cut = Math.min(over, Math.max(1, widths[widest]! - second));
    widths[widest] = widths[widest]! - cut;
    total -= cut;
  }
  return widths;
}

export function formatRow(cells: string[], widths: number[]): string {
  return cells.map((c, i) => fit(c, widths[i]!)).join(" ".repeat(GAP));
}

/** The first visible row so that the cursor stays on screen. */
export function windowStart(cursor: number, height: number, count: number): number {
  if (count <= height) return 0;
  return Math.max(0, Math.min(cursor - height + 1, count - height, cursor));
}

/** Rows whose any cell contains the filter (case-insensitive). */
export function filterRows(rows: Row[], filter: string): Row[] {
  const f = filter.trim().toLowerCase();
  if (!f) return rows;
  return rows.filter((r) => Object.values(r.cells).some((v) => v.toLowerCase().includes(f)));
}
