/**
 * The dashboard's UI state as one pure reducer: key handling dispatches intents, the reducer
 * decides. Pure so that every key path is testable without a terminal.
 */
export type Focus = "sidebar" | "table";
export type Overlay = "none" | "help" | "filter" | "palette" | "prompt" | "confirm";

/** What a command-output view runs: a palette line, or a pane action (args, secrets in env, follow-ups). */
export interface OutputSpec {
  line: string;
  task?: import("../types.ts").ActionTask;
  command?: import("../types.ts").CommandSpec;
  then?: (run: import("../types.ts").FinishedRun) => import("../types.ts").FollowUp[];
}

/** A destructive pane action waiting for y. */
export interface PendingConfirm {
  paneId: string;
  key: string;
  question: string;
  rowId?: string;
}

/** A pane action waiting for its text (typed into `input`). */
export interface PendingPrompt {
  paneId: string;
  key: string;
  title: string;
  secret?: boolean;
  rowId?: string;
}

export interface UIState {
  /** index of the selected pane in the sidebar */
  pane: number;
  paneCount: number;
  focus: Focus;
  /** cursor row per pane id */
  cursor: Record<string, number>;
  /** filter text per pane id (applies live while typing) */
  filter: Record<string, string>;
  overlay: Overlay;
  /** the palette's (or a prompt's) text being typed */
  input: string;
  /** the pane action asking for text while overlay is "prompt" */
  prompt?: PendingPrompt;
  /** the pane action asking for y while overlay is "confirm" */
  confirm?: PendingConfirm;
  /** sort column and direction per pane id (unset: the source's order) */
  sort: Record<string, { key: string; desc: boolean } | undefined>;
  /** a row's streaming output, shown instead of the table */
  logView?: { pane: string; row: string; title: string };
  /** drilled-into row (pane id + row id), shown instead of the table */
  detail?: { pane: string; row: string };
  /** the palette's last command line; its output is shown until Esc */
  output?: OutputSpec;
  history: string[];
  /** position while browsing history with ↑/↓ in the palette (history.length = the new line) */
  historyAt: number;
}

export type Intent =
  | { type: "move"; delta: number; paneId: string; rows: number }
  | { type: "select-pane"; index: number }
  | { type: "focus"; focus: Focus }
  | { type: "drill"; paneId: string; rowId?: string }
  | { type: "back"; paneId: string }
  | { type: "open"; overlay: Exclude<Overlay, "none" | "prompt"> }
  /** a pane action that needs a line of text first */
  | { type: "prompt"; prompt: PendingPrompt }
  /** a destructive pane action that asks first */
  | { type: "ask"; confirm: PendingConfirm }
  /** sort by the next column (or the same one the other way round) */
  | { type: "sort"; paneId: string; columns: string[]; reverse: boolean }
  | { type: "logs"; pane: string; row: string; title: string }
  /** Esc in an overlay; a filter being typed is dropped */
  | { type: "close"; paneId: string }
  | { type: "type"; text: string; paneId: string }
  | { type: "erase"; paneId: string }
  | { type: "complete"; text: string }
  | { type: "history"; delta: number }
  | { type: "submit" }
  /** a pane action: runs a command line as if typed into the palette */
  | ({ type: "run" } & OutputSpec);

export function initialState(paneCount: number, pane = 0): UIState {
  return { pane, paneCount, focus: "sidebar", cursor: {}, filter: {}, overlay: "none", input: "", history: [], historyAt: 0, sort: {} };
}

const clamp = (n: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, n));

export function reduce(s: UIState, i: Intent): UIState {
  switch (i.type) {
    case "move": {
      if (s.focus === "sidebar") return { ...s, pane: clamp(s.pane + i.delta, 0, s.paneCount - 1), detail: undefined };
      const at = s.cursor[i.paneId] ?? 0;
      return { ...s, cursor: { ...s.cursor, [i.paneId]: clamp(at + i.delta, 0, Math.max(0, i.rows - 1)) } };
    }
    case "select-pane":
      return { ...s, pane: clamp(i.index, 0, s.paneCount - 1), focus: "table", detail: undefined, output: undefined, logView: undefined };
    case "focus":
      return { ...s, focus: i.focus };
    case "drill":
      if (s.focus === "sidebar") return { ...s, focus: "table" };
      return i.rowId === undefined ? s : { ...s, detail: { pane: i.paneId, row: i.rowId } };
    case "back":
      // Esc peels one layer at a time: command output, detail, filter, table focus
      if (s.output) return { ...s, output: undefined };
      if (s.logView) return { ...s, logView: undefined };
      if (s.detail) return { ...s, detail: undefined };
      if (s.filter[i.paneId]) return { ...s, filter: { ...s.filter, [i.paneId]: "" } };
      return { ...s, focus: "sidebar" };
    case "open":
      return { ...s, overlay: i.overlay, input: "", historyAt: s.history.length };
    case "prompt":
      return { ...s, overlay: "prompt", prompt: i.prompt, input: "" };
    case "ask":
      return { ...s, overlay: "confirm", confirm: i.confirm };
    case "sort": {
      const now = s.sort[i.paneId];
      if (i.columns.length === 0) return s;
      if (i.reverse) return { ...s, sort: { ...s.sort, [i.paneId]: { key: now?.key ?? i.columns[0]!, desc: !(now?.desc ?? false) } } };
      const next = now ? i.columns.indexOf(now.key) + 1 : 0;
      // past the last column: back to the source's own order
      return { ...s, sort: { ...s.sort, [i.paneId]: next < i.columns.length ? { key: i.columns[next]!, desc: false } : undefined } };
    }
    case "logs":
      return { ...s, logView: { pane: i.pane, row: i.row, title: i.title }, detail: undefined };
    case "close":
      if (s.overlay === "filter") return { ...s, overlay: "none", filter: { ...s.filter, [i.paneId]: "" } };
      return { ...s, overlay: "none", input: "", prompt: undefined, confirm: undefined };
    case "type":
      if (s.overlay === "filter") return { ...s, filter: { ...s.filter, [i.paneId]: (s.filter[i.paneId] ?? "") + i.text }, cursor: { ...s.cursor, [i.paneId]: 0 } };
      return { ...s, input: s.input + i.text };
    case "erase":
      if (s.overlay === "filter") return { ...s, filter: { ...s.filter, [i.paneId]: (s.filter[i.paneId] ?? "").slice(0, -1) } };
      return { ...s, input: s.input.slice(0, -1) };
    case "complete":
      return { ...s, input: i.text };
    case "history": {
      const at = clamp(s.historyAt + i.delta, 0, s.history.length);
      return { ...s, historyAt: at, input: s.history[at] ?? "" };
    }
    case "run": {
      const { type: _, ...output } = i;
      return { ...s, output, detail: undefined, overlay: "none", input: "", prompt: undefined, confirm: undefined };
    }
    case "submit": {
      if (s.overlay === "filter") return { ...s, overlay: "none", focus: "table" };
      // "devx config show" and "config show" are the same line
      const line = s.input.trim().replace(/^devx(\s+|$)/, "");
      if (!line) return { ...s, overlay: "none" };
      const history = s.history[s.history.length - 1] === line ? s.history : [...s.history, line];
      return { ...s, overlay: "none", input: "", output: { line }, history, historyAt: history.length, detail: undefined };
    }
  }
}
