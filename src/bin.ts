import { main } from "./cli/main.ts";

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

const code = await main(process.argv.slice(2), { signal: controller.signal });
process.exit(interrupted && code === 0 ? 130 : code);
