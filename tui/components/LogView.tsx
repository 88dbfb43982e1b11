import { Box, Text, type Key } from "ink";
import { useMemo, useState } from "react";
import { firstShown, highlight, matchingLines, screenLines } from "../log-view.ts";
import type { LogStream } from "../hooks/use-log-stream.ts";

export const LOG_KEYS: Array<[string, string]> = [
  ["space", "pause / resume (new lines are kept, the view holds still)"],
  ["f  G", "follow the end again"],
  ["↑ ↓  j k  pgup pgdn  g", "scroll (stops following)"],
  ["w", "wrap long lines / cut them"],
  ["/", "search; ⏎ keeps it, esc clears it"],
  ["n  N", "next / previous match"],
  ["esc", "back to the table"],
];

interface View {
  follow: boolean;
  /** the lines frozen while paused */
  frozen?: string[];
  wrap: boolean;
  query: string;
  typing: boolean;
  /** the log line at the top when not following */
  top: number;
}

/** Where the dashboard's key handler hands keys while a log view is open (one handler, one key). */
export type LogKeys = { current?: (input: string, key: Key) => void };

/**
 * A row's output, k9s style: follows the end, pauses, wraps, searches with highlighted matches.
 * While open it gets the dashboard's keys through `keys`; Esc leaves.
 */
export function LogView({ title, stream, width, height, onClose, keys }: { title: string; stream: LogStream; width: number; height: number; onClose(): void; keys: LogKeys }) {
  const [v, setV] = useState<View>({ follow: true, wrap: false, query: "", typing: false, top: 0 });
  const lines = v.frozen ?? stream.lines;
  const bodyHeight = Math.max(1, height - 1);
  const screen = useMemo(() => screenLines(lines, width, v.wrap), [lines, width, v.wrap]);
  const matches = useMemo(() => matchingLines(lines, v.query), [lines, v.query]);
  const start = firstShown(screen, bodyHeight, v.follow, v.top);
  const shown = screen.slice(start, start + bodyHeight);
  const topLine = shown[0]?.line ?? 0;
  const scrollTo = (line: number) => setV((x) => ({ ...x, follow: false, top: Math.max(0, Math.min(line, Math.max(0, lines.length - 1))) }));
  const jump = (dir: 1 | -1) => {
    if (!matches.length) return;
    const next = dir === 1 ? (matches.find((m) => m > topLine) ?? matches[0]!) : (matches.findLast((m) => m < topLine) ?? matches.at(-1)!);
    scrollTo(next);
  };

  keys.current = (input, key) => {
    if (v.typing) {
      if (key.escape) return setV((x) => ({ ...x, typing: false, query: "" }));
      if (key.return) return setV((x) => ({ ...x, typing: false }));
      if (key.backspace || key.delete) return setV((x) => ({ ...x, query: x.query.slice(0, -1) }));
      if (!key.ctrl && !key.meta && input && !/[\x00-\x1f\x7f]/.test(input)) setV((x) => ({ ...x, query: x.query + input }));
      return;
    }
    if (key.escape) return v.query ? setV((x) => ({ ...x, query: "" })) : onClose();
    if (input === " " || input === "p") return setV((x) => (x.frozen ? { ...x, frozen: undefined } : { ...x, frozen: stream.lines }));
    if (input === "f" || input === "G" || key.end) return setV((x) => ({ ...x, follow: true, frozen: undefined }));
    if (input === "w") return setV((x) => ({ ...x, wrap: !x.wrap }));
    if (input === "/") return setV((x) => ({ ...x, typing: true, query: "" }));
    if (input === "n") return jump(1);
    if (input === "N") return jump(-1);
    if (key.upArrow || input === "k") return scrollTo(topLine - 1);
    if (key.downArrow || input === "j") return scrollTo(topLine + 1);
    if (key.pageUp) return scrollTo(topLine - bodyHeight);
    if (key.pageDown) return scrollTo(topLine + bodyHeight);
    if (input === "g" || key.home) return scrollTo(0);
  };

  const fresh = v.frozen ? stream.lines.length - v.frozen.length : 0;
  const mode = v.frozen ? `paused${fresh > 0 ? ` +${fresh} new` : ""}` : v.follow ? "following" : "scrolled";
  const at = matches.findIndex((m) => m >= topLine);
  const search = v.typing ? `/${v.query}▏` : v.query ? `/${v.query} ${matches.length ? `${at < 0 ? matches.length : at + 1}/${matches.length}` : "no match"}` : "";
  const status = [mode, v.wrap ? "wrap" : "", search, stream.ended ? (stream.error ? `ended: ${stream.error}` : "ended") : ""].filter(Boolean).join("  ");
  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate">
        <Text bold>Logs › {title}</Text>
        <Text color={v.frozen ? "yellow" : v.follow ? "green" : "cyan"}> [{status}]</Text>
      </Text>
      {lines.length === 0 ? <Text dimColor>{stream.ended ? (stream.error ? `error: ${stream.error}` : "no output") : "waiting for output…"}</Text> : null}
      {shown.map((s, i) => (
        <Text key={i} wrap="truncate">
          {highlight(s.text || " ", v.query).map((p, j) => (
            <Text key={j} inverse={p.hit} color={p.hit ? "yellow" : undefined}>
              {p.text}
            </Text>
          ))}
        </Text>
      ))}
    </Box>
  );
}
