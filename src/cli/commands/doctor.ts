import * as v from "valibot";
import { rm } from "node:fs/promises";
import { defineCommand, flag } from "../define.ts";
import { listSessions } from "../../platform/sessions.ts";
import type { CheckResult } from "../../core/doctor/checks.ts";
import type { UpSessionData } from "../../core/up/session.ts";
import { plural } from "../../events/format.ts";
import { painter } from "../../text/style.ts";

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
    fix: flag("stop what crashed runs left running (a killed `devx up`'s services and containers), finish interrupted state operations (`devx state recover`) and remove stale session files"),
  }),
  async run(opts, deps) {
    const { runChecks } = await import("../../core/doctor/checks.ts");
    const { describeOrphans, findOrphans, orphanDeps, stopOrphans } = await import("../../core/up/orphans.ts");
    const { SESSION_KIND } = await import("../../core/up/session.ts");
    const loaded = await deps.findConfig().catch(() => undefined);
    const od = orphanDeps(deps, loaded);
    const leftoversOf = async (s: { kind: string; data: unknown }) => (s.kind === SESSION_KIND ? describeOrphans(await findOrphans(od, s.data as UpSessionData)) : []);
    let fixed: string[] = [];
    let stopped: string[] = [];
    let recovered: string[] = [];
    if (opts.fix) {
      const stale = (await listSessions(deps.paths.state)).filter((s) => s.stale);
      for (const s of stale) {
        if (s.kind === SESSION_KIND) {
          const found = await findOrphans(od, s.data as UpSessionData);
          if (!opts.dryRun) await stopOrphans(od, found);
          stopped = [...stopped, ...describeOrphans(found)];
        }
        if (!opts.dryRun) await rm(s.file, { force: true });
      }
      fixed = stale.map((s) => `${s.kind}/${s.id}`);
      const { interruptedWork, recoverInterrupted } = await import("../../core/state/recover.ts");
      const work = await interruptedWork(deps.paths.state);
      if (work.interrupted.length + work.leftovers.length > 0) {
        const { stateDeps } = await import("./state/state-deps.ts");
        const r = await recoverInterrupted(await stateDeps(deps), { dryRun: opts.dryRun });
        recovered = [...r.recovered.map((x) => `${x.op} of ${x.source}: ${x.actions.join("; ")}`), ...(r.swept.length ? [`${r.swept.length} leftover${r.swept.length === 1 ? "" : "s"} of interrupted runs`] : [])];
      }
    }
    const checks = await runChecks({
      exec: deps.exec,
      env: deps.env,
      stateDir: deps.paths.state,
      loadConfig: () => deps.findConfig(),
      leftoversOf,
      checkRelay: async (uri) => {
        const { openRelay } = await import("../../../providers/relay/index.ts");
        const state = (await deps.findConfig())?.config.state;
        return openRelay(uri, { endpoint: state?.endpoint, region: state?.region, pathStyle: state?.path_style, env: deps.env, exec: deps.exec }).check();
      },
    });
    const bad = checks.find((c) => c.status === "fail" && (c.id === "config" || c.id === "relay"));
    const code = bad?.id === "config" ? 3 : bad?.id === "relay" ? 8 : 0;
    if (deps.global.json) {
      deps.io.out.write(JSON.stringify({ ok: code === 0, checks, fixed, stopped, recovered }, null, 2) + "\n");
      return code;
    }
    const c = painter(deps.io.color);
    const width = Math.max(...checks.map((x) => x.title.length)) + 2;
    const lines = checks.map((x) => {
      const head = `${c(COLOR[x.status], ICON[x.status])} ${x.title.padEnd(width)}${x.status === "missing" ? (x.detail ?? "not installed") : (x.detail ?? "")}`;
      return x.fix && x.status !== "ok" ? `${head}\n    ${c("90", "fix:")} ${x.fix}` : head;
    });
    deps.io.out.write(lines.join("\n") + "\n");
    if (opts.fix && recovered.length) deps.io.out.write(`${opts.dryRun ? "would recover" : "recovered"}: ${recovered.join("; ")}\n`);
    if (opts.fix && stopped.length) deps.io.out.write(`${opts.dryRun ? "would stop" : "stopped"} what crashed runs left running: ${stopped.join(", ")}\n`);
    if (opts.fix) deps.io.out.write(fixed.length ? `${opts.dryRun ? "would remove" : "removed"} ${plural(fixed.length, "stale session file")}: ${fixed.join(", ")}\n` : "no stale session files to remove\n");
    return code;
  },
});
