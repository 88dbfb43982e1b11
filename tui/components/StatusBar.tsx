import { Box, Text } from "ink";
import type { UIState } from "../state/reducer.ts";
import type { FollowUp, RowAction } from "../types.ts";

const HINTS: Record<string, string> = {
  // most needed first: a narrow terminal cuts the end of the line
  normal: "q quit  ? help  / filter  : command  ⏎ open  esc back  ↑↓/jk move  ←→/hl focus  r refresh",
  detail: "q quit  esc back  : command  ? help",
  output: "q quit  esc back (stops a running command)  : command",
  help: "esc/?/q close",
};

/** The last line: key hints, or the filter / command being typed. */
export function StatusBar({ state, paneId, actions = [], followUps = [] }: { state: UIState; paneId: string; actions?: RowAction[]; followUps?: FollowUp[] }) {
  if (state.overlay === "prompt" && state.prompt) {
    return (
      <Box height={1} paddingX={1}>
        <Text color="yellow">{state.prompt.title}: </Text>
        <Text>{state.prompt.secret ? "•".repeat(state.input.length) : state.input}</Text>
        <Text inverse> </Text>
        <Text dimColor>  ⏎ ok  esc cancel</Text>
      </Box>
    );
  }
  if (state.overlay === "filter") {
    return (
      <Box height={1} paddingX={1}>
        <Text color="yellow">/</Text>
        <Text>{state.filter[paneId] ?? ""}</Text>
        <Text inverse> </Text>
        <Text dimColor>  ⏎ keep  esc clear</Text>
      </Box>
    );
  }
  if (state.overlay === "palette") {
    return (
      <Box height={1} paddingX={1}>
        <Text color="yellow">:</Text>
        <Text>{state.input}</Text>
        <Text inverse> </Text>
        <Text dimColor>  ⏎ run  tab complete  ↑↓ history  esc cancel</Text>
      </Box>
    );
  }
  const mode = state.overlay === "help" ? "help" : state.output ? "output" : state.detail ? "detail" : "normal";
  return (
    <Box height={1} paddingX={1}>
      <Text dimColor wrap="truncate">
        {mode === "normal" && actions.length
          ? HINTS.normal!.replace("? help  ", `? help  ${actions.map((a) => `${a.key} ${a.title}`).join("  ")}  `)
          : mode === "output" && followUps.length
            ? `${followUps.map((f) => `${f.key} ${f.title}`).join("  ")}  ${HINTS.output}`
            : HINTS[mode]}
      </Text>
    </Box>
  );
}
