import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { ROOT } from "../../support/binary.ts";

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : /\.tsx?$/.test(e.name) ? [join(dir, e.name)] : []));
}
const importsOf = (file: string) => [...readFileSync(file, "utf8").matchAll(/(?:^|\n)\s*(?:import|export)[^"']*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1] ?? m[2]!);

describe("the Kubernetes SDK stays behind providers/kube", () => {
  test("no file outside providers/kube imports @kubernetes/client-node, and src/ reaches the cluster only through the KubeBridge capability interface (and the selector swap written on it)", () => {
    const offenders: string[] = [];
    for (const file of [...sources(join(ROOT, "src")), ...sources(join(ROOT, "tui"))].filter(Boolean)) {
      for (const spec of importsOf(file)) {
        if (spec.startsWith("@kubernetes/client-node")) offenders.push(`${relative(ROOT, file)} imports ${spec}`);
        if (/providers\/kube\/(?!(bridge|intercept-selector)\.ts$)/.test(spec)) offenders.push(`${relative(ROOT, file)} imports ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  test("the tunnel protocol is a leaf: it imports nothing of devx but itself and the typed errors", () => {
    for (const file of sources(join(ROOT, "src/protocol"))) {
      for (const spec of importsOf(file)) expect(spec.startsWith(".") ? spec.startsWith("./") || spec === "../../errors.ts" : true).toBe(true);
    }
  });
});
