import * as v from "valibot";
import { rm } from "node:fs/promises";
import { defineCommand, flag } from "../define.ts";
import { listSessions } from "../../platform/sessions.ts";
import type { CheckResult } from "../../core/doctor/checks.ts";
import { plural } from "../../events/format.ts";

const ICON: Record<CheckResult["status"], string> = { ok: "✓", warn: "!", fail: "✗", missing: "-" };
const COLOR: Record<CheckResult["status"], string> = { ok: "32", warn: "33", fail: "31", missing: "90" };

export default defineCommand({
  path: ["doctor"],
  group: "Help & setup",
  dryRun: "plan",
  summary: "check what is installed and usable, with a fix for each problem",
  description:
    "Checks container runtimes, VM providers, CRIU, cloudflared, Tailscale, the Kubernetes context, the state relay\n" +
    "and devx.yaml. Exits 0 when devx can work (missing optional tools are listed, not fatal), 3 when devx.yaml is\n" +
    "invalid, 8 when the configured relay cannot be reached.",
  examples: ["devx doctor", "devx doctor --json | jq '.checks[] | select(.status != \"ok\")'", "devx doctor --fix"],
  options: v.object({
    fix: flag("remove stale session files left by crashed runs"),
  }),
  async run(opts, deps) {
    const { runChecks } = await import("../../core/doctor/checks.ts");
    let fixed: string[] = [];
    if (opts.fix) {
      const stale = (await listSessions(deps.paths.state)).filter((s) => s.stale);
      if (!opts.dryRun) for (const s of stale) await rm(s.file, { force: true });
      fixed = stale.map((s) => `${s.kind}/${s.id}`);
    }
    const checks = await runChecks({
      exec: deps.exec,
      env: deps.env,
      stateDir: deps.paths.state,
      loadConfig: () => deps.findConfig(),
      checkRelay: async (uri) => {
        const { openRelay } = await import("../../../providers/relay/index.ts");
        const state = (await deps.findConfig())?.config.state;
        return openRelay(uri, { endpoint: state?.endpoint, region: state?.region, pathStyle: state?.path_style, env: deps.env, exec: deps.exec }).check();
      },
    });
    const bad = checks.find((c) => c.status === "fail" && (c.id === "config" || c.id === "relay"));
    const code = bad?.id === "config" ? 3 : bad?.id === "relay" ? 8 : 0;
    if (deps.global.json) {
      deps.io.out.write(JSON.stringify({ ok: code === 0, checks, fixed }, null, 2) + "\n");
      return code;
    }
    const c = (code: string, s: string) => (deps.io.color ? `\x1b[${code}m${s}\x1b[0m` : s);
    const width = Math.max(...checks.map((x) => x.title.length)) + 2;
    const lines = checks.map((x) => {
      const head = `${c(COLOR[x.status], ICON[x.status])} ${x.title.padEnd(width)}${x.status === "missing" ? (x.detail ?? "not installed") : (x.detail ?? "")}`;
      return x.fix && x.status !== "ok" ? `${head}\n    ${c("90", "fix:")} ${x.fix}` : head;
    });
    deps.io.out.write(lines.join("\n") + "\n");
    if (opts.fix) deps.io.out.write(fixed.length ? `${opts.dryRun ? "would remove" : "removed"} ${plural(fixed.length, "stale session file")}: ${fixed.join(", ")}\n` : "no stale session files to remove\n");
    return code;
  },
});
