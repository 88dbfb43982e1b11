import type { Deps } from "./deps.ts";

/**
 * Entry point for every role of the binary. Returns the exit code; only src/bin.ts exits.
 * `--version` is answered before anything else loads, so it stays as fast as a hello-world binary.
 */
export async function main(argv: string[], overrides: Partial<Deps> = {}): Promise<number> {
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V" || argv[0] === "-v" || argv[0] === "version")) {
    const { VERSION } = await import("../version.ts");
    (overrides.io?.out ?? process.stdout).write(`devx ${VERSION}\n`);
    return 0;
  }
  const { runCli } = await import("./run.ts");
  return runCli(argv, overrides);
}
