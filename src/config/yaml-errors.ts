import type { LineCounter, YAMLError } from "yaml";
import { scanYaml } from "./yaml-scan.ts";

/**
 * YAML syntax errors in words, at the line the user has to change. The parser reports where it
 * noticed the problem: an over-indented key as "Nested mappings are not allowed in compact
 * mappings" on the line above it, an unclosed quote at the end of the file. Each error is matched
 * with the source lines around it to say what is wrong and where.
 */
export interface SyntaxProblem {
  line: number;
  col: number;
  message: string;
}

/** Flow collections nested deeper than this are refused before parsing (the parser recurses). */
export const MAX_FLOW_DEPTH = 64;

interface Line {
  text: string;
  indent: number;
  /** the key of a `key:` or `- key:` line */
  key?: string;
  /** column (0-based) of that key */
  keyCol?: number;
  /** column (0-based) of a leading "- " */
  dashCol?: number;
  /** something follows the key's colon on the same line */
  inlineValue?: boolean;
  content: boolean;
}

function analyse(raw: string): Line {
  const text = raw.replace(/\r$/, "");
  const indent = text.length - text.trimStart().length;
  const content = !/^\s*(#.*)?$/.test(text);
  const m = /^(\s*)((?:-\s+)*)([^\s#"'[{][^#]*?|"[^"]*"|'[^']*')\s*:(?:\s+(.*))?$/.exec(text);
  if (!m) return { text, indent, content, dashCol: /^\s*-(\s|$)/.test(text) ? indent : undefined };
  const keyCol = m[1]!.length + m[2]!.length;
  const value = (m[4] ?? "").replace(/\s+#.*$/, "").trim();
  return { text, indent, content, key: m[3]!.replace(/^["']|["']$/g, ""), keyCol, dashCol: m[2] ? indent : undefined, inlineValue: value !== "" };
}

const spaces = (n: number) => `${n} space${n === 1 ? "" : "s"}`;
const orList = (xs: number[]) => (xs.length <= 1 ? String(xs[0] ?? 0) : `${xs.slice(0, -1).join(", ")} or ${xs.at(-1)}`);

/** Indentations a line at `n` could line up with: the blocks that are open above it. */
function openIndents(lines: Line[], n: number): number[] {
  const out: number[] = [];
  let min = Infinity;
  for (let k = n - 1; k >= 0 && min > 0; k--) {
    const l = lines[k]!;
    if (!l.content) continue;
    const cols = [l.keyCol, l.dashCol, l.indent].filter((c): c is number => c !== undefined && c < min);
    if (cols.length === 0) continue;
    for (const c of cols) if (!out.includes(c)) out.push(c);
    min = Math.min(...cols);
  }
  return out.sort((a, b) => b - a);
}

function nextContent(lines: Line[], from: number): number | undefined {
  for (let k = from; k < lines.length; k++) if (lines[k]!.content) return k;
  return undefined;
}

function badIndent(lines: Line[], n: number): SyntaxProblem {
  const l = lines[n]!;
  const what = l.key !== undefined ? `"${l.key}:"` : "this line";
  const item = lines.slice(0, n).findLast((p) => p.content && p.indent <= l.indent);
  if (item?.dashCol === l.indent && l.dashCol === undefined && item.keyCol !== undefined) {
    return {
      line: n + 1,
      col: l.indent + 1,
      message: `${what} lines up with the "- " of the list item on line ${lines.indexOf(item) + 1}: indent it by ${spaces(item.keyCol)} to make it part of that item, or start a new item with "- "`,
    };
  }
  const valid = openIndents(lines, n);
  return {
    line: n + 1,
    col: l.indent + 1,
    message: `${what} is indented ${spaces(l.indent)}, which lines up with no block above it (those start at ${orList(valid)} spaces): indent it like the keys it belongs with`,
  };
}

function overIndented(lines: Line[], keyLine: number): SyntaxProblem | undefined {
  const k = lines[keyLine]!;
  const n = nextContent(lines, keyLine + 1);
  if (n === undefined || k.keyCol === undefined) return undefined;
  const l = lines[n]!;
  if (l.indent <= k.keyCol) return undefined;
  const what = l.key !== undefined ? `"${l.key}:"` : "this line";
  return {
    line: n + 1,
    col: l.indent + 1,
    message: `${what} is indented ${spaces(l.indent)}, deeper than "${k.key}:" on line ${keyLine + 1} (${spaces(k.keyCol)}), which already has a value: indent it by ${spaces(k.keyCol)} to make it a key beside "${k.key}"`,
  };
}

function missingColon(lines: Line[], n: number): SyntaxProblem {
  const l = lines[n]!;
  const shown = l.text.trim().replace(/^-\s+/, "");
  return { line: n + 1, col: l.indent + 1, message: `"${shown.length > 40 ? `${shown.slice(0, 40)}…` : shown}" has no ":" after its key: write "key: value"` };
}

function duplicate(lines: Line[], n: number): SyntaxProblem {
  const l = lines[n]!;
  let first: number | undefined;
  for (let k = n - 1; k >= 0; k--) {
    const p = lines[k]!;
    if (!p.content) continue;
    if (p.keyCol === l.keyCol && p.key === l.key) {
      first = k;
      break;
    }
    if (p.indent < (l.keyCol ?? l.indent) && p.keyCol !== l.keyCol) break;
  }
  return { line: n + 1, col: (l.keyCol ?? l.indent) + 1, message: `duplicate key "${l.key ?? l.text.trim()}"${first !== undefined ? ` (already set on line ${first + 1})` : ""}: keep one` };
}

export function describeSyntaxErrors(text: string, errors: readonly YAMLError[], lc: LineCounter): SyntaxProblem[] {
  const lines = text.split("\n").map(analyse);
  const out: SyntaxProblem[] = [];
  const add = (p: SyntaxProblem | undefined) => {
    if (p && !out.some((o) => o.line === p.line && o.message === p.message)) out.push(p);
  };
  const scan = scanYaml(text, MAX_FLOW_DEPTH);
  const cutoff = scan.unclosed?.offset ?? Infinity;
  for (const e of errors) {
    if (e.pos[0] > cutoff) continue;
    const { line, col } = lc.linePos(e.pos[0]);
    const n = line - 1;
    const l = lines[n] ?? analyse("");
    switch (e.code) {
      case "TAB_AS_INDENT":
        add({ line, col: 1, message: "a tab is used for indentation: YAML allows only spaces there" });
        break;
      case "MULTILINE_IMPLICIT_KEY":
      case "BLOCK_AS_IMPLICIT_KEY": {
        if (l.key !== undefined && l.inlineValue) {
          const over = overIndented(lines, n);
          add(over ?? { line, col, message: `a value on the same line cannot be another "key: value": move it to its own indented line, or quote the whole value` });
        } else if (l.key === undefined) add(missingColon(lines, n));
        else add(overIndented(lines, n) ?? badIndent(lines, n));
        break;
      }
      case "BAD_INDENT":
        add(badIndent(lines, n));
        break;
      case "MISSING_CHAR":
        if (lines.slice(0, n).some((x) => x.text.startsWith("%"))) add({ line, col, message: 'a directive (a line starting with "%") must be followed by a "---" line' });
        else add(l.content && l.key === undefined && l.dashCol === undefined && !/^\s*[[{"']/.test(l.text) && !/^\s*(---|\.\.\.)/.test(l.text) ? missingColon(lines, n) : l.content ? badIndent(lines, n) : { line, col, message: lowerFirst(e.message) });
        break;
      case "DUPLICATE_KEY":
        add(duplicate(lines, n));
        break;
      case "MULTIPLE_DOCS":
        add({ line, col, message: 'a second YAML document starts here ("---"): devx.yaml holds one document' });
        break;
      default:
        add({ line, col, message: lowerFirst(e.message.split("\n")[0] ?? "invalid YAML") });
    }
  }
  if (scan.unclosed) {
    const { line, col } = lc.linePos(scan.unclosed.offset);
    const { char, kind } = scan.unclosed;
    add(kind === "quote" ? { line, col, message: `the quote (${char}) opened here is never closed` } : { line, col, message: `the "${char}" opened here is never closed: end it with "${char === "[" ? "]" : "}"}"` });
  }
  return out.sort((a, b) => a.line - b.line || a.col - b.col);
}

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);
