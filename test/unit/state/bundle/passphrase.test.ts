import { expect, test } from "bun:test";
import { generatePassphrase, isPassphrase, passphraseBits, passphraseProblem, uniformIndex, WORDLIST } from "../../../../src/core/state/bundle/passphrase.ts";
import { UsageError } from "../../../../src/errors.ts";

test("the wordlist has 7,776 distinct lowercase words (EFF large list)", () => {
  expect(WORDLIST.length).toBe(7776);
  expect(new Set(WORDLIST).size).toBe(7776);
  expect(WORDLIST.every((w) => /^[a-z]{3,9}$/.test(w))).toBe(true);
  expect(WORDLIST[0]).toBe("abacus");
  expect(WORDLIST[7775]).toBe("zoom");
});

test("4 words give ≈51.7 bits", () => {
  expect(passphraseBits(4)).toBeCloseTo(51.699, 2);
  expect(passphraseBits(6)).toBeCloseTo(77.549, 2);
});

test("generated passphrases are N words from the list joined by '-'", () => {
  const p = generatePassphrase();
  expect(p.split("-").length).toBe(4);
  expect(isPassphrase(p)).toBe(true);
  expect(generatePassphrase(7).split("-").length).toBe(7);
  expect(() => generatePassphrase(2)).toThrow(UsageError);
  expect(() => generatePassphrase(25)).toThrow(UsageError);
  expect(() => generatePassphrase(4.5)).toThrow(UsageError);
});

test("uniformIndex rejects draws from the biased tail instead of reducing them modulo n", () => {
  const n = 7776;
  const limit = Math.floor(2 ** 32 / n) * n;
  const draws = [2 ** 32 - 1, limit, limit - 1];
  let used = 0;
  const stub = (b: Uint32Array) => {
    b[0] = draws[used++]!;
    return b;
  };
  expect(uniformIndex(n, stub)).toBe((limit - 1) % n);
  expect(used).toBe(3);
});

test("words are drawn uniformly (chi-square far inside 6 sigma over 96,000 draws)", () => {
  const counts = new Map<string, number>();
  const passes = 24_000;
  for (let i = 0; i < passes; i++) for (const w of generatePassphrase(4).split("-")) counts.set(w, (counts.get(w) ?? 0) + 1);
  const expected = (passes * 4) / WORDLIST.length;
  let chi = 0;
  for (const w of WORDLIST) chi += ((counts.get(w) ?? 0) - expected) ** 2 / expected;
  const df = WORDLIST.length - 1;
  expect(Math.abs(chi - df)).toBeLessThan(6 * Math.sqrt(2 * df));
  // each of the first and last 100 words appears: no part of the list is unreachable
  expect(WORDLIST.slice(0, 100).filter((w) => counts.has(w)).length).toBeGreaterThan(90);
  expect(WORDLIST.slice(-100).filter((w) => counts.has(w)).length).toBeGreaterThan(90);
});

test("no two passphrases repeat in 10,000 draws", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 10_000; i++) seen.add(generatePassphrase());
  expect(seen.size).toBe(10_000);
});

test("passphraseProblem explains what is wrong", () => {
  expect(passphraseProblem("abacus-zoom-radar")).toBeUndefined();
  expect(passphraseProblem("abacus-zoom")).toContain("3 to 24 words");
  expect(passphraseProblem("Abacus-zoom-radar")).toContain("lowercase");
  expect(passphraseProblem("abacus--zoom-radar")).toContain("lowercase");
  expect(passphraseProblem("abacus-zoom-radarr")).toContain("'radarr'");
});
