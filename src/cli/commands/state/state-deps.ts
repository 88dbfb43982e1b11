import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Deps } from "../../deps.ts";
import { stderrEmit } from "../../deps.ts";
import type { StateDeps } from "../../../core/state/state-deps.ts";
import { projectName } from "../../../config/project.ts";

/**
 * StateDeps from the CLI's Deps: the runtime (devx.yaml `provider` or DEVX_RUNTIME, else detected),
 * the project scope (devx.yaml `name`), relay options from `state:`. Heavy modules load here, not
 * at command registration.
 */
export async function stateDeps(deps: Deps): Promise<StateDeps> {
  const loaded = await deps.findConfig();
  const { detectRuntime } = await import("../../../../providers/runtime/index.ts");
  const state = loaded?.config.state;
  return {
    runtime: detectRuntime(deps, loaded?.config.provider),
    stateDir: deps.paths.state,
    // --json keeps stdout to the one result document: progress and warnings go to stderr
    emit: deps.global.json ? stderrEmit({ ...deps.io, err: { ...deps.io.err, isTTY: false }, color: false }, deps.env) : deps.emit,
    now: () => new Date(deps.clock.now()),
    project: projectName(loaded, deps.cwd),
    configSha256: loaded?.sha256,
    // the relays (and the S3 SDK, ~10 ms to load) only when a command needs one: not for checkpoint/restore
    openRelay: async (uri) => (await import("../../../../providers/relay/index.ts")).openRelay(uri, { endpoint: state?.endpoint, region: state?.region, pathStyle: state?.path_style, env: deps.env, exec: deps.exec }),
    fault: killAt(deps.env.DEVX_TEST_KILL_AT, deps.faultPoint),
    signal: deps.signal,
  };
}

/**
 * DEVX_TEST_KILL_AT=<step> makes devx SIGKILL itself when it reaches that step (crash-safety
 * tests: the next devx must finish or undo what this one left). `@N` after the step kills at its
 * Nth arrival.
 */
function killAt(spec: string | undefined, inner?: (p: string) => void | Promise<void>): ((p: string) => void | Promise<void>) | undefined {
  if (!spec) return inner;
  const [point, nth] = spec.split("@");
  let seen = 0;
  return (p) => {
    if (p === point && ++seen >= Number(nth ?? 1)) process.kill(process.pid, "SIGKILL");
    return inner?.(p);
  };
}

/**
 * Restore, attach and undo print their plan (under --dry-run) and their outcome on stdout, once. The
 * use-case also reports both as info events, so that the plan is on screen before the confirmation
 * question: under --dry-run there is no question, and once it is answered the command reports the
 * outcome itself, so from then on info events are not shown twice. Warnings and steps always are.
 */
export function planOnce(sd: StateDeps, deps: Deps): { sd: StateDeps; confirm(question: string): Promise<void> } {
  let quiet = deps.global.dryRun;
  return {
    sd: { ...sd, emit: (e) => void (quiet && e.type === "info" ? undefined : sd.emit(e)) },
    confirm: async (question) => {
      await deps.confirm(question);
      quiet = true;
    },
  };
}

/**
 * --relay > DEVX_RELAY > devx.yaml state.relay > user relay. With none, the bundle can only stay on
 * this machine (a directory under the state dir), which no teammate can reach: on a terminal the
 * user is asked for a relay (Enter keeps the local one), otherwise a warning says so.
 */
export async function relayUri(deps: Deps, flag: string | undefined, opts: { dryRun: boolean; emit: StateDeps["emit"] }): Promise<string> {
  const { resolveRelay } = await import("../../../config/settings.ts");
  const loaded = await deps.findConfig();
  const r = resolveRelay({ flags: { relay: flag }, env: deps.env, project: loaded?.config, user: await deps.userConfig() });
  if (r.value) return r.value;
  const dir = join(deps.paths.state, "relay");
  const local = pathToFileURL(dir).href;
  const hint = "set state.relay in devx.yaml (s3://bucket/prefix, gs://bucket/prefix), pass --relay, or set DEVX_RELAY";
  const answer = deps.io.stdinIsTTY && !opts.dryRun ? (await deps.io.readLine(`No relay is configured: teammates can only attach bundles from a shared bucket.\nRelay URI (s3://…, gs://…, file:///shared/dir), or Enter to keep it on this machine: `))?.trim() : undefined;
  if (answer) return answer;
  opts.emit({ type: "warning", message: `no relay is configured: the bundle stays on this machine (${local}), where no teammate can reach it`, hint });
  if (!opts.dryRun) await mkdir(dir, { recursive: true, mode: 0o700 });
  return local;
}
