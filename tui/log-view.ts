/**
 * The log view's pure parts: which screen lines a buffer of log lines becomes at a width (cut or
 * wrapped), where a search matches, and which slice of them is on screen.
 */
export interface ScreenLine {
  /** index of the log line it comes from */
  line: number;
  text: string;
}

export function screenLines(lines: readonly string[], width: number, wrap: boolean): ScreenLine[] {
  const w = Math.max(1, width);
  const out: ScreenLine[] = [];
  lines.forEach((raw, line) => {
    const text = raw.replace(/\t/g, "  ").replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "");
    if (!wrap || text.length <= w) return void out.push({ line, text: text.length > w ? text.slice(0, w - 1) + "…" : text });
    for (let i = 0; i < text.length; i += w) out.push({ line, text: text.slice(i, i + w) });
  });
  return out;
}

/** Indexes of the log lines that contain the query (case-insensitive). */
export function matchingLines(lines: readonly string[], query: string): number[] {
  const q = query.toLowerCase();
  if (!q) return [];
  const out: number[] = [];
  lines.forEach((l, i) => l.toLowerCase().includes(q) && out.push(i));
  return out;
}

/** Split a screen line into plain and matching parts, for highlighting. */
export function highlight(text: string, query: string): Array<{ text: string; hit: boolean }> {
  if (!query) return [{ text, hit: false }];
  const out: Array<{ text: string; hit: boolean }> = [];
  const lower = text.toLowerCase();
  const q = query.toLowerCase();
  let at = 0;
  for (let i = lower.indexOf(q); i >= 0; i = lower.indexOf(q, i + q.length)) {
    if (i > at) out.push({ text: text.slice(at, i), hit: false });
    out.push({ text: text.slice(i, i + q.length), hit: true });
    at = i + q.length;
  }
  if (at < text.length) out.push({ text: text.slice(at), hit: false });
  return out;
}

/**
 * The first screen line shown. Following, the view ends at the last line; otherwise it starts at
 * the first screen line of log line `top` (kept in range).
 */
export function firstShown(screen: readonly ScreenLine[], height: number, follow: boolean, top: number): number {
  const last = Math.max(0, screen.length - height);
  if (follow) return last;
  const at = screen.findIndex((s) => s.line >= top);
  return Math.min(Math.max(0, at < 0 ? last : at), last);
}
