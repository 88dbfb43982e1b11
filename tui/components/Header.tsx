import { Box, Text } from "ink";
import { headerText } from "../layout.ts";
import type { HeaderInfo } from "../types.ts";

/** One line, exactly the terminal's width: fields drop out (VM first) rather than wrap or crowd. */
export function Header({ info, version, width }: { info: HeaderInfo | undefined; version: string; width: number }) {
  const dots = "…";
  const line = headerText(
    {
      version,
      project: info ? (info.project ?? "(no devx.yaml)") : dots,
      provider: info ? (info.provider ?? "none found") : dots,
      vm: info ? (info.vm ?? "n/a") : dots,
      error: info?.configError?.split("\n")[0],
    },
    width,
  );
  const cut = line.indexOf(" │ ");
  const head = cut < 0 ? line : line.slice(0, cut);
  const rest = cut < 0 ? "" : line.slice(cut);
  const err = rest.indexOf(" │ devx.yaml: ");
  return (
    <Box height={1} width={width}>
      <Text wrap="truncate">
        <Text bold color="cyan">
          {head}
        </Text>
        {err < 0 ? rest : rest.slice(0, err)}
        {err < 0 ? null : <Text color="red">{rest.slice(err)}</Text>}
      </Text>
    </Box>
  );
}
