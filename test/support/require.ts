import { test } from "bun:test";

/**
 * Real parts (podman, s3, criu…) are used when present. When a part is missing, tests that need it
 * are skipped loudly — unless DEVX_TEST_REQUIRE names it (CI sets podman,s3), then they fail.
 */
export function required(part: string): boolean {
  return (process.env.DEVX_TEST_REQUIRE ?? "").split(",").map((s) => s.trim()).includes(part);
}

const warned = new Set<string>();

/** `test` when `available`; otherwise a failing test (required) or a loud skip. */
export function testWith(part: string, available: boolean): typeof test {
  if (available) return test;
  if (required(part)) {
    return ((name: string) => test(name, () => {
      throw new Error(`${part} is required (DEVX_TEST_REQUIRE) but not available on this machine`);
    })) as unknown as typeof test;
  }
  if (!warned.has(part)) {
    warned.add(part);
    console.warn(`SKIPPING tests that need ${part}: not available here (set DEVX_TEST_REQUIRE=${part} to make this fail)`);
  }
  return test.skip;
}
