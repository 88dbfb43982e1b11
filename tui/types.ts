/**
 * What a dashboard pane shows. Every pane is a PaneSource: the TUI knows nothing about VMs,
 * containers or tunnels, it renders rows and offers the actions a source declares.
 */
export interface Column {
  key: string;
  title: string;
  /** fixed width; otherwise sized to the content, bounded by the screen */
  width?: number;
  /** when the table is too wide, columns with a lower priority give up room first (default 0) */
  priority?: number;
}

export interface Row {
  /** stable across reloads, so the cursor stays on the same thing */
  id: string;
  cells: Record<string, string>;
  /** health colour hint for the first column */
  tone?: "ok" | "warn" | "bad" | "dim";
  /** numbers to sort a column by where its text would sort wrong (sizes, percentages, ages) */
  sort?: Record<string, number>;
}

export type PaneData =
  /** badge: a warning shown beside the pane's title (e.g. orphans found in the cluster) */
  | { kind: "rows"; columns: Column[]; rows: Row[]; note?: string; badge?: string }
  /** the capability is not in this build, or cannot work here: said plainly, no rows */
  | { kind: "unavailable"; reason: string };

/** Output lines of an in-process action; throws a DevxError (its message and hint are shown). */
export type ActionTask = (onLine: (line: string) => void, signal: AbortSignal) => Promise<void>;

/**
 * A devx command line with what the palette line cannot carry: secrets for the child's
 * environment (never its argv) and the text shown in their place.
 */
export interface CommandSpec {
  args: string[];
  env?: Record<string, string>;
  /** what the output view shows as the command line (default: the args) */
  label?: string;
}

/** What a finished command offers next: a key on its output view. */
export interface FollowUp {
  key: string;
  title: string;
  /** runs another command line in the same output view */
  command?: CommandSpec;
  /** something the dashboard does itself (e.g. copy to the clipboard); returns a line to show */
  effect?(): string;
}

export interface FinishedRun {
  code: number;
  lines: string[];
  /** the command's stdout alone: its result (a --json document) without the status lines */
  stdout: string;
}

/** A key on a pane: either a devx command line, or a core use-case called in-process. */
export interface RowAction {
  key: string;
  title: string;
  /** ask for a line of text first (the text is passed to command/task); secret input is shown masked */
  prompt?: { title: string; secret?: boolean };
  /** the devx command line the action runs, shown with its output like a palette command */
  command?(row: Row | undefined, text?: string): string[] | CommandSpec | undefined;
  /** a use-case with no command of its own (e.g. restarting one node of `devx up`); undefined when the row does not allow it */
  task?(row: Row | undefined, text?: string): { label: string; run: ActionTask } | undefined;
  /** keys offered once the command finished (a `--dry-run` that succeeded always offers y: apply) */
  then?(run: FinishedRun): FollowUp[];
  /** a destructive action asks first: the question for the row, answered with y (anything else cancels) */
  confirm?(row: Row | undefined): string;
}

export interface PaneSource {
  id: string;
  title: string;
  load(signal: AbortSignal): Promise<PaneData>;
  /** extra lines shown when a row is drilled into (e.g. a container's labels) */
  detail?(row: Row, signal: AbortSignal): Promise<string[]>;
  /**
   * The row's output, streamed: the recent lines, then new ones as they come, until the signal
   * aborts (⏎ on a row opens the log view where a pane has this).
   */
  logs?(row: Row, onLine: (line: string) => void, signal: AbortSignal): Promise<void>;
  actions?: RowAction[];
  /** how often to reload while visible, when it differs from the dashboard's default */
  refreshMs?: number;
  /** sources that change without polling (the Logs pane) call fn on every change */
  subscribe?(fn: () => void): () => void;
}

/** Header facts; each is loaded on its own so one slow provider never blocks the frame. */
export interface HeaderInfo {
  project?: string;
  provider?: string;
  vm?: string;
  configError?: string;
}

/** One line in the Logs pane: events from use-cases and what the dashboard itself ran. */
export interface LogEntry {
  at: number;
  source: string;
  line: string;
  level: "info" | "warn" | "error";
}

/** Runs a devx command line for the palette, streaming its output; env is added to the child's. */
export type CommandRunner = (args: string[], onLine: (line: string, stream: "stdout" | "stderr") => void, signal: AbortSignal, env?: Record<string, string>) => Promise<number>;
