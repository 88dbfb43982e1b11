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
 * Column widths for the space available: each column takes what its widest cell needs; when the
 * table is too wide, the lowest-priority columns give up room first, widest first, down to a
 * readable minimum (then the next priority gives way).
 */
export function columnWidths(columns: Column[], rows: Row[], width: number): number[] {
  const MIN = 6;
  const widths = columns.map((c) => c.width ?? Math.max(c.title.length, ...rows.map((r) => (r.cells[c.key] ?? "").length)));
  const budget = width - GAP * Math.max(0, columns.length - 1);
  let over = widths.reduce((a, b) => a + b, 0) - budget;
  const priorities = [...new Set(columns.map((c) => c.priority ?? 0))].sort((a, b) => a - b);
  for (const p of priorities) {
    const idx = columns.map((c, i) => ((c.priority ?? 0) === p && c.width === undefined ? i : -1)).filter((i) => i >= 0);
    while (over > 0) {
      const shrinkable = idx.filter((i) => widths[i]! > MIN);
      if (shrinkable.length === 0) break;
      const widest = shrinkable.reduce((a, b) => (widths[b]! > widths[a]! ? b : a));
      const next = Math.max(MIN, ...shrinkable.filter((i) => i !== widest).map((i) => widths[i]!));
      const cut = Math.min(over, Math.max(1, widths[widest]! - next));
      widths[widest] = widths[widest]! - cut;
      over -= cut;
    }
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
