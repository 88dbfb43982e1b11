import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Node } from "yaml";
import type { Locate } from "./graph.ts";

/**
 * Positions of services/databases keys in the main devx.yaml ("devx.yaml:12:5"), for validation
 * messages. Items that come from an include or a profile are not found here; the message then
 * simply has no position.
 */
export function yamlLocator(file: string, cwd = process.cwd()): Locate {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return () => undefined;
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  const shown = relative(cwd, file) || file;
  return (section, name, key) => {
    const seq = doc.get(section, true) as Node | undefined;
    if (!isSeq(seq)) return undefined;
    for (const item of seq.items) {
      if (!isMap(item)) continue;
      const n = item.get("name") ?? (section === "databases" ? item.get("engine") : undefined);
      if (n !== name) continue;
      let node: Node = item;
      if (key) {
        const pair = item.items.find((p) => isScalar(p.key) && p.key.value === key);
        if (pair?.key && (pair.key as Node).range) node = pair.key as Node;
      }
      if (!node.range) return undefined;
      const pos = lc.linePos(node.range[0]);
      return `${shown}:${pos.line}:${pos.col}`;
    }
    return undefined;
  };
}
