import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Deps } from "../../deps.ts";
import { stderrEmit } from "../../deps.ts";
import type { StateDeps } from "../../../core/state/context.ts";

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
    project: loaded?.config.name,
    configSha256: loaded?.sha256,
    // the relays (and the S3 SDK, ~10 ms to load) only when a command needs one: not for checkpoint/restore
    openRelay: async (uri) => (await import("../../../../providers/relay/index.ts")).openRelay(uri, { endpoint: state?.endpoint, region: state?.region, pathStyle: state?.path_style, env: deps.env, exec: deps.exec }),
    fault: deps.faultPoint,
    signal: deps.signal,
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

/** --relay > DEVX_RELAY > devx.yaml state.relay > user relay > a directory under the state dir. */
export async function relayUri(deps: Deps, flag: string | undefined, o: { create: boolean } = { create: true }): Promise<string> {
  const { resolveRelay } = await import("../../../config/settings.ts");
  const loaded = await deps.findConfig();
  const r = resolveRelay({ flags: { relay: flag }, env: deps.env, project: loaded?.config, user: await deps.userConfig() });
  if (r.value) return r.value;
  const dir = join(deps.paths.state, "relay");
  // a dry run names the directory without making it
  if (o.create) await mkdir(dir, { recursive: true, mode: 0o700 });
  return pathToFileURL(dir).href;
}
