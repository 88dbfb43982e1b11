import { useInput, type Key } from "ink";
import { filterRows } from "../layout.ts";
import { complete, tokenize, type CommandInfo } from "../palette.ts";
import type { Intent, OutputSpec, UIState } from "../state/reducer.ts";
import type { CommandSpec, FinishedRun, FollowUp, PaneSource, Row, RowAction } from "../types.ts";

export interface KeyContext {
  /** the latest state, including what earlier keys of the same chunk did */
  getState(): UIState;
  dispatch(i: Intent): void;
  sources: PaneSource[];
  /** the last rows loaded for a pane (before the filter), in the order shown */
  rowsOf(paneId: string): Row[];
  /** the keys of the columns a pane shows (what o sorts by, in order) */
  columnsOf?(paneId: string): string[];
  /** rows that fit on one page (PageUp/PageDown) */
  page: number;
  commands: CommandInfo[];
  reload(): void;
  quit(exitCode?: number): void;
  /** the command shown in the output view, once it has finished (for its follow-up keys) */
  finished?(): FinishedRun | undefined;
  /** a line added to the output view (what a follow-up's effect did) */
  note?(line: string): void;
  /** the open log view's own keys (components/LogView.tsx) */
  logKeys?: { current?: (input: string, key: Key) => void };
}

/**
 * Keys a finished command offers: its action's own, and `y` to apply a `--dry-run` that
 * succeeded (the same command without --dry-run, with -y: the plan was the confirmation).
 */
export function followUps(output: OutputSpec, run: FinishedRun): FollowUp[] {
  const out = [...(output.then?.(run) ?? [])];
  const args = output.command?.args ?? tokenize(output.line);
  if (run.code === 0 && args.includes("--dry-run") && !out.some((f) => f.key === "y")) {
    const label = output.command?.label ? `${output.command.label.replace(/ --dry-run\b/, "")} -y` : undefined;
    out.push({ key: "y", title: "apply", command: { args: [...args.filter((a) => a !== "--dry-run"), "-y"], env: output.command?.env, label } });
  }
  return out;
}

/** The intent that runs a command spec in the output view, shown by its label or its quoted args. */
const runSpec = (spec: CommandSpec, then?: OutputSpec["then"]): Intent => ({ type: "run", line: spec.label ?? spec.args.map(quote).join(" "), command: spec, then });

/** Starts a pane action (with the text its prompt asked for). */
function start(action: RowAction, row: Row | undefined, text: string | undefined, dispatch: (i: Intent) => void): void {
  if (action.command) {
    const c = action.command(row, text);
    if (!c) return;
    return dispatch(runSpec(Array.isArray(c) ? { args: c } : c, action.then));
  }
  const task = action.task?.(row, text);
  if (task) dispatch({ type: "run", line: task.label, task: task.run });
}

/** Printable text from a key event (Ink passes pasted text as one input). */
const printable = (input: string, key: Key) => !key.ctrl && !key.meta && input.length > 0 && !/[\x00-\x1f\x7f]/.test(input);

/**
 * Keys in the style of k9s/lazydocker. Overlays (filter, palette, help) take the keys first; in
 * the normal view the keys act on the focused column (sidebar or table).
 */
export function handleKey(input: string, key: Key, c: KeyContext): void {
  const { dispatch } = c;
  const s = c.getState();
  const paneId = c.sources[s.pane]!.id;
  if (key.ctrl && input === "c") return c.quit(130);

  if (s.overlay === "filter" || s.overlay === "palette") {
    if (key.escape) return dispatch({ type: "close", paneId });
    if (key.return) return dispatch({ type: "submit" });
    if (key.backspace || key.delete) return dispatch({ type: "erase", paneId });
    if (s.overlay === "palette") {
      if (key.tab) return dispatch({ type: "complete", text: complete(s.input, c.commands) });
      if (key.upArrow) return dispatch({ type: "history", delta: -1 });
      if (key.downArrow) return dispatch({ type: "history", delta: 1 });
    }
    if (printable(input, key)) dispatch({ type: "type", text: input, paneId });
    return;
  }
  if (s.overlay === "prompt" && s.prompt) {
    if (key.escape) return dispatch({ type: "close", paneId });
    if (key.backspace || key.delete) return dispatch({ type: "erase", paneId });
    if (key.return) {
      const p = s.prompt;
      const text = s.input.trim();
      const action = c.sources.find((x) => x.id === p.paneId)?.actions?.find((a) => a.key === p.key);
      if (!text || !action) return dispatch({ type: "close", paneId });
      return start(action, c.rowsOf(p.paneId).find((r) => r.id === p.rowId), text, dispatch);
    }
    if (printable(input, key)) dispatch({ type: "type", text: input, paneId });
    return;
  }
  if (s.overlay === "confirm" && s.confirm) {
    const q = s.confirm;
    dispatch({ type: "close", paneId });
    const action = c.sources.find((x) => x.id === q.paneId)?.actions?.find((a) => a.key === q.key);
    // y alone confirms: any other key (n, Esc, Enter) leaves everything as it was
    if (input === "y" && action) start(action, c.rowsOf(q.paneId).find((r) => r.id === q.rowId), undefined, dispatch);
    return;
  }
  if (s.overlay === "help") {
    if (key.escape || input === "?" || input === "q") dispatch({ type: "close", paneId });
    return;
  }
  // the log view has its own keys (components/LogView.tsx) and closes itself; ? is help there too
  if (s.logView && !s.output) {
    if (input === "?") dispatch({ type: "open", overlay: "help" });
    else c.logKeys?.current?.(input, key);
    return;
  }

  if (input === "q") return c.quit();
  if (input === "?") return dispatch({ type: "open", overlay: "help" });
  if (input === ":") return dispatch({ type: "open", overlay: "palette" });
  if (input === "/") {
    dispatch({ type: "focus", focus: "table" });
    return dispatch({ type: "open", overlay: "filter" });
  }
  if (input === "r") return c.reload();
  if (key.escape) return dispatch({ type: "back", paneId });
  if (/^[1-9]$/.test(input)) return dispatch({ type: "select-pane", index: Number(input) - 1 });
  if (s.output) {
    const run = c.finished?.();
    const f = run && followUps(s.output, run).find((x) => x.key === input);
    if (f?.command) dispatch(runSpec(f.command, s.output.then));
    else if (f?.effect) c.note?.(f.effect());
    return; // otherwise the output view only answers Esc (and the global keys)
  }
  if (s.detail) return;

  // the rows as shown (after the filter), so the cursor and drill match the screen
  const shown = filterRows(c.rowsOf(paneId), s.filter[paneId] ?? "");
  const rows = shown.length;
  if (key.upArrow || input === "k") return dispatch({ type: "move", delta: -1, paneId, rows });
  if (key.downArrow || input === "j") return dispatch({ type: "move", delta: 1, paneId, rows });
  if (key.pageUp) return dispatch({ type: "move", delta: -c.page, paneId, rows });
  if (key.pageDown) return dispatch({ type: "move", delta: c.page, paneId, rows });
  if (input === "g" || key.home) return dispatch({ type: "move", delta: -Infinity, paneId, rows });
  if (input === "G" || key.end) return dispatch({ type: "move", delta: Infinity, paneId, rows });
  if (key.leftArrow || input === "h") return dispatch({ type: "focus", focus: "sidebar" });
  if (key.rightArrow || input === "l" || key.tab) return dispatch({ type: "focus", focus: "table" });
  const at = Math.min(s.cursor[paneId] ?? 0, rows - 1);
  const source = c.sources[s.pane]!;
  const row = shown[at];
  // ⏎ opens a row's logs where the pane has them (services, containers); d shows its fields
  if (key.return && s.focus === "table" && row && source.logs) return dispatch({ type: "logs", pane: paneId, row: row.id, title: row.cells[Object.keys(row.cells)[0]!] ?? row.id });
  if (key.return || (input === "d" && s.focus === "table")) return dispatch({ type: "drill", paneId, rowId: row?.id });
  if (input === "o" || input === "O") return dispatch({ type: "sort", paneId, columns: c.columnsOf?.(paneId) ?? [], reverse: input === "O" });
  const action = source.actions?.find((a) => a.key === input);
  if (!action) return;
  if (action.prompt) return dispatch({ type: "prompt", prompt: { paneId, key: action.key, title: action.prompt.title, secret: action.prompt.secret, rowId: row?.id } });
  const question = action.confirm?.(row);
  if (question) return dispatch({ type: "ask", confirm: { paneId, key: action.key, question, rowId: row?.id } });
  start(action, row, undefined, dispatch);
}

const NO_KEY: Key = { upArrow: false, downArrow: false, leftArrow: false, rightArrow: false, pageDown: false, pageUp: false, home: false, end: false, return: false, escape: false, ctrl: false, shift: false, tab: false, backspace: false, delete: false, meta: false, super: false, hyper: false, capsLock: false, numLock: false };

/** One character of a multi-character chunk as the key it stands for. */
function keyOf(ch: string): [string, Key] {
  if (ch === "\r" || ch === "\n") return ["", { ...NO_KEY, return: true }];
  if (ch === "\t") return ["", { ...NO_KEY, tab: true }];
  if (ch === "\x7f" || ch === "\b") return ["", { ...NO_KEY, backspace: true }];
  return [ch, NO_KEY];
}

/** Quote a word for the palette line so that tokenize() gives it back unchanged. */
export const quote = (w: string) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'"'"'`)}'`);

export function useKeys(c: KeyContext): void {
  useInput((input, key) => {
    // a chunk of text (paste, fast typing, tmux send-keys) arrives as one input: each character
    // must see the state the previous one produced (":doctor⏎" opens the palette, types, runs)
    if (input.length > 1 && !key.ctrl && !key.meta && !input.includes("\x1b")) {
      for (const ch of input) handleKey(...keyOf(ch), c);
      return;
    }
    handleKey(input, key, c);
  });
}
