import { Box, Text } from "ink";
import type { PaneSource } from "../types.ts";

export function Sidebar({ sources, selected, focused, width }: { sources: PaneSource[]; selected: number; focused: boolean; width: number }) {
  return (
    <Box flexDirection="column" width={width} borderStyle="round" borderColor={focused ? "cyan" : "gray"} paddingX={1} flexShrink={0}>
      {sources.map((s, i) => {
        const on = i === selected;
        return (
          <Text key={s.id} wrap="truncate" inverse={on && focused} bold={on} color={on ? "cyan" : undefined}>
            {on ? "›" : " "} {i + 1} {s.title}
          </Text>
        );
      })}
    </Box>
  );
}
