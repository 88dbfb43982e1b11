import { Box, Text } from "ink";
import type { HeaderInfo } from "../types.ts";

export function Header({ info, version }: { info: HeaderInfo | undefined; version: string }) {
  const dots = "…";
  return (
    <Box height={1} paddingX={1}>
      <Text bold color="cyan">
        devx {version}
      </Text>
      <Text> │ project: </Text>
      <Text bold>{info ? (info.project ?? "(no devx.yaml)") : dots}</Text>
      <Text> │ provider: </Text>
      <Text bold>{info ? (info.provider ?? "auto") : dots}</Text>
      <Text> │ VM: </Text>
      <Text bold>{info ? (info.vm ?? "n/a") : dots}</Text>
      {info?.configError ? <Text color="red"> │ devx.yaml: {info.configError.split("\n")[0]}</Text> : null}
    </Box>
  );
}
