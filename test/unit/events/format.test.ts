import { expect, test } from "bun:test";
import { formatBytes, plural } from "../../../src/events/format.ts";

test("one byte formatter, binary units, as the dashboard and the CLI show them", () => {
  expect(formatBytes(0)).toBe("0 B");
  expect(formatBytes(512)).toBe("512 B");
  expect(formatBytes(1023)).toBe("1023 B");
  expect(formatBytes(1024)).toBe("1.0 KiB");
  expect(formatBytes(7066)).toBe("6.9 KiB");
  expect(formatBytes(1_500_000)).toBe("1.4 MiB");
  // rounding up to the next unit reads as that unit, never "1024.0 KiB"
  expect(formatBytes(1024 * 1024 - 1)).toBe("1.0 MiB");
  expect(formatBytes(117 * 1024 ** 3)).toBe("117.0 GiB");
  expect(formatBytes(Number.NaN)).toBe("--");
});

test("counted nouns", () => {
  expect(plural(1, "container")).toBe("1 container");
  expect(plural(0, "volume")).toBe("0 volumes");
  expect(plural(3, "more problem")).toBe("3 more problems");
});
