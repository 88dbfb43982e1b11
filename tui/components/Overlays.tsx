import { Box, Text } from "ink";
import type { CommandRun, Progress } from "../hooks/use-command.ts";
import { formatBytes } from "../../src/events/format.ts";
import type { CommandInfo } from "../palette.ts";
import type { PaneSource } from "../types.ts";
import { LOG_KEYS } from "./LogView.tsx";

const KEYS: Array<[string, string]> = [
  ["↑ ↓  j k", "move in the sidebar or the table"],
  ["← →  h l  tab", "focus the sidebar / the table"],
  ["1 … 8", "jump to a pane"],
  ["⏎", "open the pane; on a row: its logs where it has them, else its fields"],
  ["d", "the row's fields"],
  ["o  O", "sort by the next column / the other way round"],
  ["esc", "back (closes output, detail, filter; then focus the sidebar)"],
  ["/", "filter the rows of this pane (⏎ keeps it, esc clears it)"],
  [":", "command palette: runs any devx command, e.g. :doctor or :config show"],
  ["g G  pgup pgdn", "first / last row, page up / down"],
  ["r", "reload this pane now (panes also refresh every few seconds)"],
  ["y", "after a --dry-run plan that succeeded: apply it (pane keys: status bar)"],
  ["?", "this help"],
  ["q  ctrl-c", "quit"],
];

/** `?`: the keys of what is on screen first (this pane's actions, the log view), then the rest. */
export function HelpView({ width, height, pane, mode }: { width: number; height: number; pane: PaneSource; mode: "table" | "logs" | "output" }) {
  const sections: Array<[string, Array<[string, string]>]> = [];
  if (mode === "logs") sections.push([`Logs (${pane.title})`, LOG_KEYS]);
  const own = (pane.actions ?? []).map((a): [string, string] => [a.key, `${a.title}${a.confirm ? " (asks first)" : a.prompt ? ` (asks: ${a.prompt.title})` : ""}`]);
  if (pane.logs && mode === "table") own.unshift(["⏎", "the row's logs: follow, pause, wrap, search"]);
  if (own.length) sections.push([pane.title, own]);
  sections.push(["Everywhere", KEYS]);
  const lines: Array<{ head?: string; key?: string; text?: string }> = sections.flatMap(([head, keys], i) => [...(i ? [{}] : []), { head }, ...keys.map(([key, text]) => ({ key, text }))]);
  return (
    <Box flexDirection="column" width={width}>
      {lines.slice(0, Math.max(1, height)).map((l, i) =>
        l.head ? (
          <Text key={i} bold wrap="truncate">
            {l.head}
          </Text>
        ) : (
          <Text key={i} wrap="truncate">
            <Text color="cyan">{(l.key ?? "").padEnd(16)}</Text>
            {l.text ?? ""}
          </Text>
        ),
      )}
    </Box>
  );
}

export function PaletteView({ input, suggestions, width }: { input: string; suggestions: CommandInfo[]; width: number }) {
  return (
    <Box flexDirection="column" width={width}>
      <Text bold>Run a devx command</Text>
      <Text>
        <Text color="yellow">devx </Text>
        {input}
        <Text inverse> </Text>
      </Text>
      <Text> </Text>
      {suggestions.length === 0 ? <Text dimColor>no matching command (⏎ runs it anyway and shows devx's answer)</Text> : null}
      {suggestions.map((c) => (
        <Text key={c.path.join(" ")} wrap="truncate">
          <Text color="cyan">{c.path.join(" ").padEnd(20)}</Text>
          <Text dimColor>{c.summary}</Text>
        </Text>
      ))}
    </Box>
  );
}

export function OutputView({ run, width, height }: { run: CommandRun | undefined; width: number; height: number }) {
  if (!run) return null;
  const status = run.code === undefined ? <Text color="yellow">running…</Text> : <Text color={run.code === 0 ? "green" : "red"}>exit {run.code}</Text>;
  const bars = run.progress ?? [];
  const room = Math.max(1, height - 1 - bars.length);
  return (
    <Box flexDirection="column" width={width}>
      <Text wrap="truncate">
        [{status}] <Text bold>$ devx {run.line}</Text>
      </Text>
      {run.lines.slice(-room).map((l, i) => (
        <Text key={i} wrap="truncate" color={l.stream === "stderr" ? "yellow" : undefined}>
          {l.text || " "}
        </Text>
      ))}
      {bars.map((p) => (
        <Text key={p.id} wrap="truncate">
          {progressBar(p, width)}
        </Text>
      ))}
    </Box>
  );
}

/** `upload [##########..........]  50%  14.0 MiB/28.0 MiB`, fitted to the width. */
export function progressBar(p: Progress, width: number): string {
  const total = p.total !== undefined ? Math.max(p.total, p.bytes) : undefined;
  const amount = total !== undefined ? `${formatBytes(p.bytes)}/${formatBytes(total)}` : formatBytes(p.bytes);
  if (!total) return `${p.title}  ${amount}`;
  const pct = Math.min(100, (p.bytes / total) * 100);
  const tail = ` ${pct.toFixed(0).padStart(3)}%  ${amount}`;
  const barWidth = Math.max(5, Math.min(30, width - p.title.length - tail.length - 3));
  const done = Math.round((pct / 100) * barWidth);
  return `${p.title} [${"#".repeat(done)}${".".repeat(barWidth - done)}]${tail}`;
}
