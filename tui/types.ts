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
}

export type PaneData =
  | { kind: "rows"; columns: Column[]; rows: Row[]; note?: string }
  /** the capability is not in this build, or cannot work here: said plainly, no rows */
  | { kind: "unavailable"; reason: string };

/** Output lines of an in-process action; throws a DevxError (its message and hint are shown). */
export type ActionTask = (onLine: (line: string) => void, signal: AbortSignal) => Promise<void>;

/** A key on a pane: either a devx command line, or a core use-case called in-process. */
export interface RowAction {
  key: string;
  title: string;
  /** the devx command line the action runs, shown with its output like a palette command */
  command?(row: Row | undefined): string[];
  /** a use-case with no command of its own (e.g. restarting one node of `devx up`); undefined when the row does not allow it */
  task?(row: Row | undefined): { label: string; run: ActionTask } | undefined;
}

export interface PaneSource {
  id: string;
  title: string;
  load(signal: AbortSignal): Promise<PaneData>;
  /** extra lines shown when a row is drilled into (e.g. a container's last log lines) */
  detail?(row: Row, signal: AbortSignal): Promise<string[]>;
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

/** Runs a devx command line for the palette, streaming its output. */
export type CommandRunner = (args: string[], onLine: (line: string, stream: "stdout" | "stderr") => void, signal: AbortSignal) => Promise<number>;
