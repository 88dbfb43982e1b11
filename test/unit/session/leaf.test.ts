import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * The session protocol is a leaf both ends import: it may use only itself, valibot and node
 * built-ins. The runner uses the protocol and its own files (plus the platform-free parts it is
 * given), and nothing else in devx imports the runner except its hidden command.
 */
const ROOT = resolve(import.meta.dir, "../../..");

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") || e.name.endsWith(".tsx") ? [join(dir, e.name)] : []));
}

function imports(file: string): string[] {
  const src = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of src.matchAll(/(?:^|\n)\s*(?:import|export)[^"'`;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)|require\(\s*["']([^"']+)["']\s*\)/g)) {
    out.push((m[1] ?? m[2] ?? m[3])!);
  }
  return out;
}

const resolveImport = (from: string, spec: string) => (spec.startsWith(".") ? relative(ROOT, resolve(dirname(from), spec)) : spec);

describe("layering of the session protocol and the runner", () => {
  test("src/session/protocol imports only itself, valibot and node built-ins", () => {
    for (const f of files(join(ROOT, "src/session/protocol"))) {
      for (const spec of imports(f)) {
        const target = resolveImport(f, spec);
        const ok = target.startsWith("src/session/protocol/") || target === "valibot" || target.startsWith("node:");
        expect(ok ? "ok" : `${relative(ROOT, f)} imports ${spec}`).toBe("ok");
      }
    }
  });

  test("src/runner imports only the protocol, itself, valibot, bun and node built-ins", () => {
    for (const f of files(join(ROOT, "src/runner"))) {
      for (const spec of imports(f)) {
        const target = resolveImport(f, spec);
        const ok = target.startsWith("src/runner/") || target.startsWith("src/session/protocol") || target === "valibot" || target.startsWith("node:") || target === "bun" || target === "bun:ffi";
        expect(ok ? "ok" : `${relative(ROOT, f)} imports ${spec}`).toBe("ok");
      }
    }
  });

  test("nothing in devx imports the runner but its hidden command", () => {
    for (const dir of ["src", "tui", "providers"]) {
      for (const f of files(join(ROOT, dir))) {
        if (f.includes("/src/runner/")) continue;
        for (const spec of imports(f)) {
          const target = resolveImport(f, spec);
          if (!target.startsWith("src/runner/")) continue;
          expect(relative(ROOT, f)).toBe("src/cli/commands/runner.ts");
        }
      }
    }
  });
});
