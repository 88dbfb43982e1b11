/**
 * Share passphrases: N words drawn uniformly from the EFF large wordlist (7,776 words, ≈12.92 bits
 * each; 4 words ≈ 51.7 bits) with the platform CSPRNG. See wordlist-notice.md for attribution.
 */
import { UsageError } from "../../../errors.ts";
import wordlistText from "./wordlist.txt" with { type: "text" };

export const WORDLIST: readonly string[] = wordlistText.split("\n").filter((w) => w.length > 0);
const WORDS = new Set(WORDLIST);

export const DEFAULT_WORDS = 4;
/** matches `state.words` in devx.yaml */
export const MIN_WORDS = 3;
export const MAX_WORDS = 24;

/** Entropy in bits of a passphrase of `words` words. */
export function passphraseBits(words: number): number {
  return words * Math.log2(WORDLIST.length);
}

/**
 * A uniform index in [0, n). Rejection sampling: draws at or above the largest multiple of n that
 * fits in 32 bits are thrown away, so no index is more likely than another (no modulo bias).
 */
export function uniformIndex(n: number, random: (buf: Uint32Array) => Uint32Array = (b) => crypto.getRandomValues(b)): number {
  const limit = Math.floor(0x1_0000_0000 / n) * n;
  const buf = new Uint32Array(1);
  for (;;) {
    const x = random(buf)[0]!;
    if (x < limit) return x % n;
  }
}

/** "word-word-word-word" */
export function generatePassphrase(words = DEFAULT_WORDS): string {
  if (!Number.isInteger(words) || words < MIN_WORDS || words > MAX_WORDS) {
    throw new UsageError(`--words must be a whole number from ${MIN_WORDS} to ${MAX_WORDS} (got ${words})`, `use --words 4 (≈${passphraseBits(4).toFixed(1)} bits) or more`);
  }
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(WORDLIST[uniformIndex(WORDLIST.length)]!);
  return out.join("-");
}

/**
 * Check that `text` has the shape of a devx passphrase: MIN_WORDS–MAX_WORDS words from the list,
 * joined by "-". Returns undefined when it does, else what is wrong (for an error message).
 */
export function passphraseProblem(text: string): string | undefined {
  const words = text.split("-");
  if (words.some((w) => !/^[a-z]+$/.test(w))) return "a passphrase is lowercase words joined by '-'";
  if (words.length < MIN_WORDS || words.length > MAX_WORDS) return `a passphrase has ${MIN_WORDS} to ${MAX_WORDS} words, this one has ${words.length}`;
  const unknown = words.filter((w) => !WORDS.has(w));
  if (unknown.length > 0) return `not in the devx wordlist: ${unknown.map((w) => `'${w}'`).join(", ")} (a typo?)`;
  return undefined;
}

export function isPassphrase(text: string): boolean {
  return passphraseProblem(text) === undefined;
}
