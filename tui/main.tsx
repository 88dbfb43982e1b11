import type { Deps } from "../src/cli/deps.ts";
import type { Command } from "../src/cli/define.ts";

export async function runDashboard(deps: Deps, _commands: Command[]): Promise<number> {
  deps.io.err.write("dashboard not built yet\n");
  return 1;
}
