import { Box, Text } from "ink";
import type { CommandRun } from "../hooks/use-command.ts";
import type { CommandInfo } from "../palette.ts";

const KEYS: Array<[string, string]> = [
  ["↑ ↓  j k", "move in the sidebar or the table"],
  ["← →  h l  tab", "focus the sidebar / the table"],
  ["1 … 8", "jump to a pane"],
  ["⏎", "open the pane / drill into the row"],
  ["esc", "back (closes output, detail, filter; then focus the sidebar)"],
  ["/", "filter the rows of this pane (⏎ keeps it, esc clears it)"],
  [":", "command palette: runs any devx command, e.g. :doctor or :config show"],
  ["g G  pgup pgdn", "first / last row, page up / down"],
  ["r", "reload this pane now (panes also refresh every few seconds)"],
  ["y", "after a --dry-run plan that succeeded: apply it (pane keys: status bar)"],
  ["?", "this help"],
  ["q  ctrl-c", "quit"],
];

export function HelpView({ width }: { width: number }) {
  return (
    <Box flexDirection="column" width={width}>
      <Text bold>Keys</Text>
      {KEYS.map(([k, d]) => (
        <Text key={k} wrap="truncate">
          <Text color="cyan">{k.padEnd(16)}</Text>
          {d}
        </Text>
      ))}
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
  const room = Math.max(1, height - 1);
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
    </Box>
  );
}
