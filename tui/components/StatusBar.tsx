import { Box, Text } from "ink";
import type { UIState } from "../state/reducer.ts";
import type { FollowUp, RowAction } from "../types.ts";

const HINTS: Record<string, string> = {
  // most needed first: a narrow terminal cuts the end of the line
  normal: "q quit  ? help  / filter  : command  ⏎ open  o sort  esc back  ↑↓/jk move  ←→/hl focus  r refresh",
  detail: "q quit  esc back  : command  ? help",
  output: "q quit  esc back (stops a running command)  : command",
  logs: "esc back  space pause  f follow  w wrap  / search  n/N next/prev  ? help",
  help: "esc/?/q close",
};

/** The last line, exactly one row: key hints, or what is being typed or asked. */
export function StatusBar({ state, paneId, actions = [], followUps = [], hasLogs = false, width }: { state: UIState; paneId: string; actions?: RowAction[]; followUps?: FollowUp[]; hasLogs?: boolean; width?: number }) {
  const line = (children: React.ReactNode) => (
    <Box height={1} paddingX={1} width={width}>
      <Text wrap="truncate">{children}</Text>
    </Box>
  );
  if (state.overlay === "confirm" && state.confirm) {
    return line(
      <>
        <Text color="red" bold>
          {state.confirm.question}
        </Text>
        <Text> y yes  </Text>
        <Text dimColor>any other key: no</Text>
      </>,
    );
  }
  if (state.overlay === "prompt" && state.prompt) {
    return line(
      <>
        <Text color="yellow">{state.prompt.title}: </Text>
        <Text>{state.prompt.secret ? "•".repeat(state.input.length) : state.input}</Text>
        <Text inverse> </Text>
        <Text dimColor>  ⏎ ok  esc cancel</Text>
      </>,
    );
  }
  if (state.overlay === "filter") {
    return line(
      <>
        <Text color="yellow">/</Text>
        <Text>{state.filter[paneId] ?? ""}</Text>
        <Text inverse> </Text>
        <Text dimColor>  ⏎ keep  esc clear</Text>
      </>,
    );
  }
  if (state.overlay === "palette") {
    return line(
      <>
        <Text color="yellow">:</Text>
        <Text>{state.input}</Text>
        <Text inverse> </Text>
        <Text dimColor>  ⏎ run  tab complete  ↑↓ history  esc cancel</Text>
      </>,
    );
  }
  const mode = state.overlay === "help" ? "help" : state.output ? "output" : state.logView ? "logs" : state.detail ? "detail" : "normal";
  const normal = hasLogs ? HINTS.normal!.replace("⏎ open", "⏎ logs  d details") : HINTS.normal!;
  const text =
    mode === "normal" && actions.length
      ? normal.replace("? help  ", `? help  ${actions.map((a) => `${a.key} ${a.title}`).join("  ")}  `)
      : mode === "normal"
        ? normal
        : mode === "output" && followUps.length
          ? `${followUps.map((f) => `${f.key} ${f.title}`).join("  ")}  ${HINTS.output}`
          : HINTS[mode]!;
  return line(<Text dimColor>{text}</Text>);
}
