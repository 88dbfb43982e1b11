import type { Column, Row } from "./types.ts";

/** Cut to w cells with an ellipsis; pad to exactly w so columns line up without borders. */
export function fit(s: string, w: number): string {
  if (w <= 0) return "";
  const flat = s.replace(/\s+/g, " ");
  if (flat.length > w) return w === 1 ? "…" : flat.slice(0, w - 1) + "…";
  return flat.padEnd(w);
}

export const GAP = 2;

/**
 * The narrowest a column gets before it is left out: its title plus room for the sort arrow, and
 * short values (a state, a size, a port: up to 10 cells) whole; the columns that say what a row
 * is (priority 3 and up: a name) keep up to 30. Only long text is cut with "…".
 */
const floor = (c: Column, rows: Row[]) => c.width ?? Math.max(c.title.length + 2, Math.min((c.priority ?? 0) >= 3 ? 30 : 10, Math.max(0, ...rows.map((r) => (r.cells[c.key] ?? "").length))));

/**
 * Which columns fit, and how wide each is. Every column takes what its widest cell needs; when the
 * table is too wide, the lowest-priority columns give up room first, widest first, down to their
 * title's width; when even that is too wide, the lowest-priority columns are left out (rightmost
 * first among equals) rather than crushing every title.
 */
export function layoutColumns(columns: Column[], rows: Row[], width: number): { columns: Column[]; widths: number[] } {
  let shown = [...columns];
  const need = (cs: Column[]) => cs.reduce((a, c) => a + floor(c, rows), 0) + GAP * Math.max(0, cs.length - 1);
  while (shown.length > 1 && need(shown) > width) {
    const lowest = Math.min(...shown.map((c) => c.priority ?? 0));
    const drop = shown.map((c, i) => ((c.priority ?? 0) === lowest ? i : -1)).filter((i) => i > 0).at(-1);
    if (drop === undefined) break;
    shown = shown.filter((_, i) => i !== drop);
  }
  // a column left out on the way may fit in what the others left free (more important first)
  const out = columns.filter((c) => !shown.includes(c)).sort((a, b) => (b.priority ?? 0) - (a.priority ?? 0));
  for (const c of out) {
    const tryShown = columns.filter((x) => shown.includes(x) || x === c);
    if (need(tryShown) <= width) shown = tryShown;
  }
  return { columns: shown, widths: columnWidths(shown, rows, width) };
}

/** Widths for columns that all fit at their titles' width (see layoutColumns). */
export function columnWidths(columns: Column[], rows: Row[], width: number): number[] {
  const widths = columns.map((c) => c.width ?? Math.max(floor(c, rows), ...rows.map((r) => (r.cells[c.key] ?? "").length)));
  const budget = width - GAP * Math.max(0, columns.length - 1);
  let over = widths.reduce((a, b) => a + b, 0) - budget;
  const priorities = [...new Set(columns.map((c) => c.priority ?? 0))].sort((a, b) => a - b);
  for (const p of priorities) {
    const idx = columns.map((c, i) => ((c.priority ?? 0) === p && c.width === undefined ? i : -1)).filter((i) => i >= 0);
    while (over > 0) {
      const shrinkable = idx.filter((i) => widths[i]! > floor(columns[i]!, rows));
      if (shrinkable.length === 0) break;
      const widest = shrinkable.reduce((a, b) => (widths[b]! > widths[a]! ? b : a));
      const next = Math.max(floor(columns[widest]!, rows), ...shrinkable.filter((i) => i !== widest).map((i) => widths[i]!));
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

export interface SortOrder {
  key: string;
  desc: boolean;
}

/** Rows by one column: the source's number for it where given, else its text (digits as numbers). */
export function sortRows(rows: Row[], order: SortOrder | undefined): Row[] {
  if (!order) return rows;
  const { key, desc } = order;
  const cmp = (a: Row, b: Row) => {
    const na = a.sort?.[key];
    const nb = b.sort?.[key];
    const r = na !== undefined && nb !== undefined ? na - nb : na !== undefined ? -1 : nb !== undefined ? 1 : (a.cells[key] ?? "").localeCompare(b.cells[key] ?? "", undefined, { numeric: true, sensitivity: "base" });
    return desc ? -r : r;
  };
  return [...rows].sort(cmp);
}

/**
 * The top bar in one line of exactly `width` cells: the version, then project, provider and VM,
 * each dropped (VM first) when the line would not fit, never wrapped or squeezed together.
 */
export function headerText(parts: { version: string; project: string; provider: string; vm: string; error?: string }, width: number): string {
  const sep = " │ ";
  const fields = [`devx ${parts.version}`, `project: ${parts.project}`, `provider: ${parts.provider}`, `VM: ${parts.vm}`];
  if (parts.error) fields.push(`devx.yaml: ${parts.error}`);
  const inner = width - 1;
  // an error is worth more than the VM and the provider: drop those first, keep the message (cut)
  const dropOrder = parts.error ? [3, 2] : [3, 2, 1];
  let kept = fields.map((_, i) => i);
  for (const d of dropOrder) {
    if (kept.map((i) => fields[i]!).join(sep).length <= inner) break;
    kept = kept.filter((i) => i !== d);
  }
  return ` ${fit(kept.map((i) => fields[i]!).join(sep), inner)}`;
}
