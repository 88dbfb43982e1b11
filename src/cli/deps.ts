import { join, relative } from "node:path";
import { CancelledError, NotFoundError, UsageError } from "../errors.ts";
import type { Emit } from "../events/types.ts";
import { jsonLinesRenderer, textRenderer } from "../events/render.ts";
import { systemExec, type Exec } from "../platform/exec.ts";
import { systemClock, type Clock } from "../platform/clock.ts";
import { resolvePaths, type Paths } from "../platform/paths.ts";
import type { LoadedConfig } from "../config/load.ts";
import type { UserConfig } from "../config/schema.ts";
import type { CoreDeps } from "../core/deps.ts";
import type { GlobalOptions } from "./define.ts";
import { processIO, type IO } from "./io.ts";

/**
 * Everything a command reaches the world through: what core's use-cases get (CoreDeps), plus the
 * terminal streams and the global flags, which stay in the CLI. Built lazily: nothing heavy is
 * constructed until a command asks for it, so `devx --version` stays instant and a test swaps one field.
 */
export interface Deps extends CoreDeps {
  io: IO;
  global: GlobalOptions;
}

/**
 * Status events on stderr: text for people, or JSON lines when the dashboard ran this process
 * (it reads them as progress bars and steps). Only its own children: a process they start in turn
 * (a detached supervisor) sees a parent pid that is not the dashboard's, and writes text.
 */
export function stderrEmit(io: IO, env: Record<string, string | undefined>): Emit {
  const forDashboard = env.DEVX_EVENTS_JSONL_FOR !== undefined && env.DEVX_EVENTS_JSONL_FOR === String(process.ppid);
  return forDashboard ? jsonLinesRenderer({ write: (s) => io.err.write(s), isTTY: false, color: false }) : textRenderer({ write: (s) => io.err.write(s), isTTY: io.err.isTTY, color: io.color });
}

export function createDeps(global: GlobalOptions, overrides: Partial<Deps> = {}): Deps {
  const env = overrides.env ?? process.env;
  const io = overrides.io ?? processIO(global.noColor, env);
  const cwd = overrides.cwd ?? process.cwd();
  const paths = overrides.paths ?? resolvePaths(env);
  let configP: Promise<LoadedConfig | undefined> | undefined;
  let userP: Promise<UserConfig> | undefined;

  const userConfig = () =>
    (userP ??= import("../config/load.ts").then((m) => m.loadUserConfig(join(paths.config, "config.yaml"))));

  const findConfig = () =>
    (configP ??= (async () => {
      const { findConfigFile, loadConfig } = await import("../config/load.ts");
      const file = global.file ?? env.DEVX_FILE ?? (await findConfigFile(cwd));
      if (!file) return undefined;
      const { resolveProfile } = await import("../config/settings.ts");
      const user = await userConfig();
      const profile = resolveProfile({ flags: global, env, user }).value;
      const home = env.HOME ?? "";
      const includeAllow = (user.include_allow ?? []).map((d) => (d.startsWith("~/") ? join(home, d.slice(2)) : d));
      return loadConfig(file, { profile, cwd, includeAllow });
    })());

  const emit: Emit = overrides.emit ?? (global.json ? jsonLinesRenderer({ ...io.out, color: false }) : stderrEmit(io, env));

  return {
    io,
    env,
    cwd,
    paths,
    exec: overrides.exec ?? systemExec,
    clock: overrides.clock ?? systemClock,
    signal: overrides.signal ?? new AbortController().signal,
    global,
    emit,
    findConfig: overrides.findConfig ?? findConfig,
    config:
      overrides.config ??
      (async () => {
        const c = await findConfig();
        if (!c) throw new NotFoundError(`no devx.yaml found in ${relative(process.cwd(), cwd) || "."} or any parent directory`, "create one (see README), or pass -f path/to/devx.yaml");
        return c;
      }),
    userConfig: overrides.userConfig ?? userConfig,
    ask: overrides.ask ?? ((question) => io.readLine(question)),
    interactive: overrides.interactive ?? io.stdinIsTTY,
    faultPoint: overrides.faultPoint,
    confirm:
      overrides.confirm ??
      (async (question) => {
        if (global.yes) return;
        if (!io.stdinIsTTY) throw new UsageError(`${question.replace(/\?$/, "")}: confirmation needed but there is no terminal`, "pass -y/--yes to confirm without a prompt");
        const answer = await io.readLine(`${question} [y/N] `);
        if (!answer || !/^y(es)?$/i.test(answer.trim())) throw new CancelledError("cancelled: nothing was changed", "run again and answer y, or pass -y");
      }),
  };
}
