import type { LoadedConfig } from "../config/load.ts";
import type { UserConfig } from "../config/schema.ts";
import type { Emit } from "../events/types.ts";
import type { Clock } from "../platform/clock.ts";
import type { Exec } from "../platform/exec.ts";
import type { Paths } from "../platform/paths.ts";

/**
 * What the use-cases in src/core reach the world through. Built lazily by src/cli (createDeps) or
 * the dashboard; a test builds one with a field swapped. Core never sees the CLI's streams or flags:
 * what a request means (a dry run, an output format) travels in the request itself, and what a use
 * case has to say goes out as events (`emit`) or as its return value, drawn by the caller.
 */
export interface CoreDeps {
  env: Record<string, string | undefined>;
  cwd: string;
  paths: Paths;
  exec: Exec;
  clock: Clock;
  /** aborted on Ctrl-C */
  signal: AbortSignal;
  /** progress and status events (steps, bytes, warnings), rendered by whoever built the deps */
  emit: Emit;
  /** the project's devx.yaml (includes and profile applied); NotFoundError when there is none */
  config(): Promise<LoadedConfig>;
  /** the same, or undefined when no devx.yaml is found */
  findConfig(): Promise<LoadedConfig | undefined>;
  userConfig(): Promise<UserConfig>;
  /**
   * Ask before a destructive action: resolves when the answer is yes; CancelledError when no; a
   * UsageError naming -y when nobody can answer (never hangs).
   */
  confirm(question: string): Promise<void>;
  /** a question a person at a terminal answers (which VM provider, which relay); null when nobody can */
  ask(question: string): Promise<string | null>;
  /** a person is at a terminal: children that talk to one (a shell) get a TTY */
  interactive: boolean;
  /**
   * Test-only failure injection for use-cases that change state: called with a step id ("apply:2")
   * before each step; throwing makes that step fail. Unset in production.
   */
  faultPoint?(point: string): void | Promise<void>;
}
