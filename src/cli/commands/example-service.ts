import * as v from "valibot";
import { defineCommand, number, option } from "../define.ts";
import { UsageError } from "../../errors.ts";

/**
 * Hidden: the demo HTTP service of examples/quickstart (documented in its README), so the quick
 * start needs nothing but the devx binary.
 */
export default defineCommand({
  path: ["example-service"],
  group: "Orchestration & state",
  dryRun: "unsupported",
  summary: "tiny demo HTTP service used by examples/quickstart (/health, / calls --upstream)",
  hidden: true,
  options: v.object({
    name: option("name shown in responses and logs", { placeholder: "name" }),
    port: number("port on 127.0.0.1 (default: $PORT)", { min: 1, max: 65535 }),
    upstream: option("URL fetched on / (e.g. $WORKER_URL)", { placeholder: "url" }),
    delay: number("seconds to wait before listening", { min: 0 }),
  }),
  async run(opts, deps) {
    const { runExampleService } = await import("../../core/up/example-service.ts");
    const port = opts.port ?? Number(deps.env.PORT);
    if (!Number.isInteger(port) || port <= 0) throw new UsageError("no port: pass --port or set PORT", "devx up sets PORT for services with a port");
    await runExampleService({
      name: opts.name ?? "example",
      port,
      upstream: opts.upstream || undefined,
      delay: opts.delay,
      signal: deps.signal,
      log: (l) => deps.io.out.write(`${l}\n`),
    });
    return 0;
  },
});
