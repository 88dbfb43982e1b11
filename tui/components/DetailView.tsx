import { Box, Text } from "ink";
import type { Column, Row } from "../types.ts";

/** A drilled-into row: every field, then what the source adds (e.g. a container's last log lines). */
export function DetailView({ title, row, columns, extra, width, height }: { title: string; row: Row; columns: Column[]; extra: string[] | { error: string } | undefined; width: number; height: number }) {
  const keys = [...new Set([...columns.map((c) => c.key), ...Object.keys(row.cells)])];
  const label = (k: string) => columns.find((c) => c.key === k)?.title ?? k.toUpperCase();
  const lw = Math.max(...keys.map((k) => label(k).length));
  const fieldLines = keys.map((k) => `${label(k).padEnd(lw)}  ${row.cells[k] ?? ""}`);
  const extraLines = extra === undefined ? ["loading…"] : Array.isArray(extra) ? extra : [`error: ${extra.error}`];
  const room = Math.max(0, height - 2 - fieldLines.length);
  return (
    <Box flexDirection="column" width={width}>
      <Text bold>
        {title} › {row.cells[columns[0]?.key ?? ""] ?? row.id}
      </Text>
      {fieldLines.map((l) => (
        <Text key={l} wrap="truncate">
          {l}
        </Text>
      ))}
      <Text> </Text>
      {(room > 0 ? extraLines.slice(-room) : []).map((l, i) => (
        <Text key={i} wrap="truncate" dimColor={extra === undefined}>
          {l}
        </Text>
      ))}
    </Box>
  );
}
