import { Box, Text } from "ink";
import type { PaneState } from "../hooks/use-pane-data.ts";
import { fit, formatRow, layoutColumns, windowStart, type SortOrder } from "../layout.ts";
import type { Row } from "../types.ts";

export interface PaneViewProps {
  title: string;
  state: PaneState;
  /** rows after the filter */
  rows: Row[];
  total: number;
  filter: string;
  sort?: SortOrder;
  cursor: number;
  focused: boolean;
  width: number;
  height: number;
}

const TONE: Record<NonNullable<Row["tone"]>, string> = { ok: "green", warn: "yellow", bad: "red", dim: "gray" };

/** One pane: its title, then a table, a plain "not available" line, an error with its hint, or loading. */
export function PaneView(p: PaneViewProps) {
  const count = p.state.status === "ready" && p.state.data.kind === "rows" ? (p.filter ? `${p.rows.length}/${p.total}` : `${p.total}`) : "";
  return (
    <Box flexDirection="column" width={p.width}>
      <Box height={1}>
        <Text wrap="truncate">
          <Text bold>{p.title}</Text>
          {count ? <Text dimColor> ({count})</Text> : null}
          {p.state.status === "ready" && p.state.data.kind === "rows" && p.state.data.badge ? <Text color="yellow"> ⚠ {p.state.data.badge}</Text> : null}
          {p.filter ? <Text color="yellow"> filter: {p.filter}</Text> : null}
        </Text>
      </Box>
      <PaneBody {...p} height={p.height - 1} />
    </Box>
  );
}

function PaneBody(p: PaneViewProps) {
  const { state } = p;
  if (state.status === "loading") return <Text dimColor>loading…</Text>;
  if (state.status === "error") {
    return (
      <Box flexDirection="column">
        <Text color="red" wrap="truncate">
          error: {state.message}
        </Text>
        {state.hint ? <Text wrap="truncate">hint: {state.hint}</Text> : null}
      </Box>
    );
  }
  const data = state.data;
  if (data.kind === "unavailable") return <Text color="yellow">{data.reason}</Text>;
  if (p.total === 0) return <Text dimColor>{data.note ?? "nothing to show"}</Text>;

  const marker = 2;
  const { columns, widths } = layoutColumns(data.columns, p.rows, p.width - marker);
  const titles = columns.map((c) => (p.sort?.key === c.key ? `${c.title} ${p.sort.desc ? "▼" : "▲"}` : c.title));
  const bodyHeight = Math.max(1, p.height - 1);
  const start = windowStart(p.cursor, bodyHeight, p.rows.length);
  const visible = p.rows.slice(start, start + bodyHeight);
  return (
    <Box flexDirection="column">
      <Text bold dimColor>
        {"  " + formatRow(titles, widths)}
      </Text>
      {p.rows.length === 0 ? <Text dimColor>no rows match "{p.filter}"</Text> : null}
      {visible.map((r, i) => {
        const on = start + i === p.cursor;
        const [first, ...rest] = columns.map((c) => r.cells[c.key] ?? "");
        return (
          <Text key={r.id} inverse={on && p.focused} wrap="truncate">
            {on ? "› " : "  "}
            <Text color={r.tone ? TONE[r.tone] : undefined}>{fit(first ?? "", widths[0]!)}</Text>
            {rest.length ? "  " + formatRow(rest, widths.slice(1)) : ""}
          </Text>
        );
      })}
    </Box>
  );
}
