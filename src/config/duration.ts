/** "1h30m", "2s", "500ms" → milliseconds; undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;
  let total = 0;
  let matched = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const n = Number(m[1]);
    total += n * (m[2] === "ms" ? 1 : m[2] === "s" ? 1000 : m[2] === "m" ? 60_000 : 3_600_000);
    matched = re.lastIndex;
  }
  return matched === text.length && matched > 0 ? total : undefined;
}

/** Duration config values: "2s" strings; a bare number means seconds. */
export function durationMs(value: string | number | undefined, fallbackMs: number): number {
  if (value === undefined) return fallbackMs;
  if (typeof value === "number") return value * 1000;
  return parseDuration(value) ?? fallbackMs;
}

/** "4GiB", "512MiB", "2G", "2048" (MiB) → MiB. */
export function parseSizeMiB(text: string | number): number | undefined {
  if (typeof text === "number") return text;
  const m = /^(\d+(?:\.\d+)?)\s*(KiB|MiB|GiB|TiB|K|M|G|T|KB|MB|GB|TB)?$/i.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = (m[2] ?? "MiB").toLowerCase();
  const f: Record<string, number> = { kib: 1 / 1024, k: 1 / 1024, kb: 1 / 1024, mib: 1, m: 1, mb: 1, gib: 1024, g: 1024, gb: 1024, tib: 1024 * 1024, t: 1024 * 1024, tb: 1024 * 1024 };
  return Math.round(n * f[unit]!);
}
