import { describe, expect, test } from "bun:test";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * The layers point down only: src/cli and tui → src/core → providers/ and src/platform. This reads
 * every import (static, `export … from`, dynamic `import()`) of every source file and fails on one
 * that points up, or on an SDK imported outside the provider that owns it. docs/architecture.md
 * draws the same picture.
 */
const ROOT = resolve(import.meta.dir, "../../..");

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const rel = join(dir, name);
    if (statSync(join(ROOT, rel)).isDirectory()) out.push(...sources(rel));
    else if (/\.(ts|tsx)$/.test(name) && !name.endsWith(".d.ts")) out.push(rel);
  }
  return out;
}

/** Every module specifier a file imports, resolved to a repository path when relative. */
export function importsOf(file: string, text: string): string[] {
  const specs = new Set<string>();
  // static imports and re-exports start a line; dynamic ones may be anywhere
  const re = /^\s*(?:import|export)\s+(?:type\s+)?(?:[^'"]*?\s+from\s+)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/gm;
  for (const m of text.matchAll(re)) specs.add((m[1] ?? m[2])!);
  return [...specs].map((s) => (s.startsWith(".") ? relative(ROOT, resolve(ROOT, dirname(file), s)) : s));
}

/** [from, forbidden target, why] — a file under `from` may not import anything under a target. */
const RULES: Array<[string, string[], string]> = [
  ["src/core/", ["src/cli/", "tui/"], "core is below the CLI and the dashboard"],
  ["src/config/", ["src/cli/", "tui/", "src/core/"], "config is read by core, not the other way round"],
  ["providers/", ["src/core/", "src/cli/", "tui/"], "providers are below core"],
  ["src/platform/", ["src/core/", "src/cli/", "tui/", "providers/", "src/config/"], "platform is the floor"],
  ["src/protocol/", ["src/core/", "src/cli/", "tui/", "providers/"], "wire protocols are leaves both ends import"],
  ["src/session/protocol/", ["src/core/", "src/cli/", "tui/", "providers/", "src/runner/"], "wire protocols are leaves both ends import"],
  ["src/events/", ["src/core/", "src/cli/", "tui/", "providers/"], "events are a leaf"],
  ["src/text/", ["src/core/", "src/cli/", "tui/", "providers/"], "text helpers are a leaf"],
  ["tui/", ["providers/"], "the dashboard reaches the world through core"],
  ["src/runner/", ["src/cli/", "tui/", "src/core/"], "the runner runs in a sandbox: the protocol leaf and platform only"],
  ["src/agent/", ["src/cli/", "tui/", "src/core/"], "the intercept agent runs in the cluster: the protocol leaf and platform only"],
];

/** SDKs stay in the provider that owns them. */
const SDKS: Array<[RegExp, string[]]> = [
  [/^@kubernetes\/client-node/, ["providers/kube/"]],
  [/^@aws-sdk\//, ["providers/relay/"]],
];

const files = [...sources("src"), ...sources("tui"), ...sources("providers")];
const graph = new Map(files.map((f) => [f, importsOf(f, readFileSync(join(ROOT, f), "utf8"))]));

describe("layers", () => {
  test("the import reader sees static, re-export, type-only and dynamic imports", () => {
    const seen = importsOf("src/core/x.ts", `import a from "./a.ts";\nimport type { B } from "../cli/b.ts";\nexport { c } from "./c.ts";\nconst d = await import("../../tui/d.tsx");\nimport "./side.ts";\nconst s = "import x from 'not-code'";`);
    expect(seen.sort()).toEqual(["src/cli/b.ts", "src/core/a.ts", "src/core/c.ts", "src/core/side.ts", "tui/d.tsx"]);
  });

  test("no import points up a layer", () => {
    const bad: string[] = [];
    for (const [file, imports] of graph) {
      for (const [from, targets, why] of RULES) {
        if (!file.startsWith(from)) continue;
        for (const i of imports) if (targets.some((t) => i.startsWith(t))) bad.push(`${file} → ${i} (${why})`);
      }
    }
    expect(bad).toEqual([]);
  });

  test("SDKs are imported only inside their provider", () => {
    const bad: string[] = [];
    for (const [file, imports] of graph) {
      for (const [sdk, homes] of SDKS) for (const i of imports) if (sdk.test(i) && !homes.some((h) => file.startsWith(h))) bad.push(`${file} → ${i}`);
    }
    expect(bad).toEqual([]);
  });

  test("no runtime import cycles (a cycle makes load order decide what is undefined)", () => {
    const valueImports = new Map(files.map((f) => {
      const text = readFileSync(join(ROOT, f), "utf8");
      const specs = [...text.matchAll(/^\s*(?:import|export)\s+(?!type\b)(?:[^'"]*?\s+from\s+)?["'](\.[^"']+)["']/gm)].map((m) => relative(ROOT, resolve(ROOT, dirname(f), m[1]!)));
      return [f, specs];
    }));
    const cycles: string[] = [];
    const done = new Set<string>();
    const path: string[] = [];
    const visit = (n: string) => {
      if (path.includes(n)) return void cycles.push([...path.slice(path.indexOf(n)), n].join(" → "));
      if (done.has(n)) return;
      path.push(n);
      for (const m of valueImports.get(n) ?? []) visit(m);
      path.pop();
      done.add(n);
    };
    for (const f of files) visit(f);
    expect(cycles).toEqual([]);
  });

  test("the rules name folders that exist (a rename cannot silently switch a rule off)", () => {
    for (const [from] of RULES) expect(files.some((f) => f.startsWith(from))).toBe(true);
  });
});
