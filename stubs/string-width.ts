// The compiled binary maps the npm `string-width` (used by Ink, wrap-ansi, cli-truncate) to Bun's
// native implementation: the npm one compiles a \p{RGI_Emoji} regex on the first non-ASCII
// string, ~70–150 ms on the dashboard's first frame. Same answers for ANSI, CJK, emoji, marks.
export default function stringWidth(s: string, options: { ambiguousIsNarrow?: boolean; countAnsiEscapeCodes?: boolean } = {}): number {
  if (typeof s !== "string" || s.length === 0) return 0;
  return Bun.stringWidth(s, { ambiguousIsNarrow: options.ambiguousIsNarrow ?? true, countAnsiEscapeCodes: options.countAnsiEscapeCodes ?? false });
}
