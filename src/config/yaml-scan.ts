/**
 * A light scan of YAML text for what the parser reports late and far from the cause: a quote or a
 * flow collection ("[", "{") that is never closed (the parser complains at the end of the file or
 * at the next line), and flow collections nested so deep that parsing them would exhaust the stack.
 * It follows YAML closely enough for that: quotes and brackets count only where a value starts;
 * comments and block scalars (| and >) are skipped.
 */
export interface ScanResult {
  unclosed?: { kind: "quote" | "flow"; char: string; offset: number };
  /** where the flow nesting first went deeper than allowed */
  tooDeep?: { offset: number };
}

/** The index of the quote that closes the one at `start`, or -1. */
function quoteEnd(text: string, start: number): number {
  const q = text[start];
  for (let j = start + 1; j < text.length; j++) {
    const c = text[j];
    if (q === '"' && c === "\\") j++;
    else if (c === q) {
      if (q === "'" && text[j + 1] === "'") j++;
      else return j;
    }
  }
  return -1;
}

const isSpace = (c: string | undefined) => c === " " || c === "\t";

export function scanYaml(text: string, maxFlowDepth: number): ScanResult {
  const stack: Array<{ char: string; offset: number }> = [];
  /** inside a block scalar: lines indented deeper than this are its content */
  let blockParent = -1;
  let i = 0;
  while (i < text.length) {
    let lineEnd = text.indexOf("\n", i);
    if (lineEnd < 0) lineEnd = text.length;
    let indent = 0;
    while (text[i + indent] === " ") indent++;
    if (blockParent >= 0) {
      const blank = text.slice(i, lineEnd).trim() === "";
      if (blank || indent > blockParent) {
        i = lineEnd + 1;
        continue;
      }
      blockParent = -1;
    }
    let j = i + indent;
    let atStart = true;
    while (j < lineEnd) {
      const c = text[j]!;
      const next = text[j + 1];
      if (isSpace(c) || c === "\r") {
        j++;
        continue;
      }
      if (c === "#" && (j === i || isSpace(text[j - 1]))) break;
      if (atStart && (c === '"' || c === "'")) {
        const close = quoteEnd(text, j);
        if (close < 0) return { unclosed: { kind: "quote", char: c, offset: j } };
        if (close >= lineEnd) {
          lineEnd = text.indexOf("\n", close);
          if (lineEnd < 0) lineEnd = text.length;
        }
        j = close + 1;
        atStart = false;
        continue;
      }
      if (atStart && (c === "[" || c === "{")) {
        stack.push({ char: c, offset: j });
        if (stack.length > maxFlowDepth) return { tooDeep: { offset: j } };
        j++;
        continue;
      }
      if (stack.length > 0 && (c === "]" || c === "}")) {
        stack.pop();
        j++;
        atStart = false;
        continue;
      }
      if (stack.length > 0 && c === ",") {
        j++;
        atStart = true;
        continue;
      }
      if ((c === "-" || c === "?") && atStart && (next === undefined || isSpace(next) || next === "\n" || next === "\r")) {
        j++;
        continue;
      }
      if (c === ":" && (next === undefined || isSpace(next) || next === "\n" || next === "\r" || (stack.length > 0 && (next === "," || next === "]" || next === "}")))) {
        j++;
        atStart = true;
        continue;
      }
      if (atStart && stack.length === 0 && (c === "|" || c === ">")) {
        blockParent = indent;
        break;
      }
      if (atStart && (c === "&" || c === "!")) {
        while (j < lineEnd && !isSpace(text[j])) j++;
        continue;
      }
      // a plain scalar: in a flow collection it ends at , ] } (handled above), else at ": " or " #"
      atStart = false;
      j++;
    }
    i = lineEnd + 1;
  }
  const open = stack.at(-1);
  return open ? { unclosed: { kind: "flow", char: open.char, offset: open.offset } } : {};
}
