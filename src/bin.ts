import { VERSION } from "./version.ts";

// `--version` is answered here, before the CLI chunk loads, so it costs what a hello-world binary
// costs. main() answers it too, for in-process callers. console.log, not process.stdout.write:
// touching process.stdout builds Node's stream wrapper, which alone tripled this path (7 → 24 ms,
// bench/startup.ts).
const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V" || argv[0] === "-v" || argv[0] === "version")) {
  console.log(`devx ${VERSION}`);
  process.exit(0);
}

// The only process.exit() in devx. Ctrl-C aborts the running command through deps.signal so that
// it can clean up; a second Ctrl-C exits at once with 130.
const controller = new AbortController();
let interrupted = false;
process.on("SIGINT", () => {
  if (interrupted) process.exit(130);
  interrupted = true;
  controller.abort(new DOMException("cancelled", "AbortError"));
});
process.on("SIGTERM", () => controller.abort(new DOMException("terminated", "AbortError")));

const { main } = await import("./cli/main.ts");
const code = await main(argv, { signal: controller.signal });
process.exit(interrupted && code === 0 ? 130 : code);
