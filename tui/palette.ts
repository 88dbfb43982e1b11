/**
 * The command palette's pure parts: splitting a typed line into argv (quotes as in a shell, no
 * expansion: nothing is ever handed to a shell) and suggesting commands from the registry.
 */
export interface CommandInfo {
  path: string[];
  summary: string;
}

export function tokenize(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quote: '"' | "'" | undefined;
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      has = true;
    } else if (c === "\\" && i + 1 < line.length) {
      cur += line[++i];
      has = true;
    } else if (/\s/.test(c)) {
      if (has) out.push(cur);
      cur = "";
      has = false;
    } else {
      cur += c;
      has = true;
    }
  }
  if (has) out.push(cur);
  // "devx config show" and "config show" mean the same thing in the palette
  if (out[0] === "devx") out.shift();
  return out;
}

/** Commands whose path starts with the words typed so far (the last word may be partial). */
export function suggest(line: string, commands: CommandInfo[], limit = 6): CommandInfo[] {
  const words = tokenize(line);
  const partial = /\s$/.test(line) || words.length === 0 ? "" : words.pop()!;
  const matches = commands.filter((c) => words.every((w, i) => c.path[i] === w) && (c.path[words.length] ?? "").startsWith(partial) && c.path.length > words.length);
  return matches.slice(0, limit);
}

/** Tab: extend the line to the longest path prefix shared by every suggestion. */
export function complete(line: string, commands: CommandInfo[]): string {
  const words = tokenize(line);
  const partial = /\s$/.test(line) || words.length === 0 ? "" : words.pop()!;
  const next = [...new Set(suggest(line, commands, Infinity).map((c) => c.path[words.length]!))];
  if (next.length === 0) return line;
  if (next.length === 1) return [...words, next[0]].join(" ") + " ";
  let common = next[0]!;
  for (const n of next) while (!n.startsWith(common)) common = common.slice(0, -1);
  return common.length > partial.length ? [...words, common].join(" ") : line;
}
