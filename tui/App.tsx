import { Box, Text, useInput, useWindowSize } from "ink";
import { Component, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { Header } from "./components/Header.tsx";
import { Sidebar } from "./components/Sidebar.tsx";
import { StatusBar } from "./components/StatusBar.tsx";
import { PaneView } from "./components/PaneView.tsx";
import { DetailView } from "./components/DetailView.tsx";
import { LogView, type LogKeys } from "./components/LogView.tsx";
import { useLogStream } from "./hooks/use-log-stream.ts";
import { HelpView, OutputView, PaletteView } from "./components/Overlays.tsx";
import { usePaneData } from "./hooks/use-pane-data.ts";
import { followUps, useKeys } from "./hooks/use-keys.ts";
import { useHeader } from "./hooks/use-header.ts";
import { useCommand } from "./hooks/use-command.ts";
import { useDetail } from "./hooks/use-detail.ts";
import { filterRows, layoutColumns, sortRows } from "./layout.ts";
import { suggest } from "./palette.ts";
import { initialState } from "./state/reducer.ts";
import { useUIReducer } from "./hooks/use-ui-reducer.ts";
import type { Row } from "./types.ts";
import { ActionsContext, UIStateContext, useActions, useUIState, type ActionsValue } from "./state/contexts.tsx";

export interface AppProps extends ActionsValue {
  version: string;
  /** fixed terminal size (tests); otherwise the real one, following resizes */
  size?: { columns: number; rows: number };
  /** pane to open on (by id) */
  initialPane?: string;
}

/**
 * Wide enough for "› 2 Containers & databases"; narrower terminals give the table the room, and
 * below 70 columns the sidebar goes (the number keys still switch panes; the pane says which it is).
 */
const sidebarWidth = (columns: number) => (columns < 70 ? 0 : Math.max(16, Math.min(30, Math.floor(columns * 0.3))));

/** The root: two contexts (UI state, actions) around the one screen, which routes its main area. */
export function App(props: AppProps) {
  const { version, size: fixed, initialPane, ...actions } = props;
  const live = useWindowSize();
  const size = fixed ?? live;
  const start = Math.max(0, actions.sources.findIndex((s) => s.id === initialPane));
  const [state, dispatch, getState] = useUIReducer(() => initialState(actions.sources.length, start));
  const ui = useMemo(() => ({ state, dispatch, getState, size }), [state, size.columns, size.rows]);
  return (
    <ActionsContext.Provider value={actions}>
      <UIStateContext.Provider value={ui}>
        <Guard>
          <Screen version={version} />
        </Guard>
      </UIStateContext.Provider>
    </ActionsContext.Provider>
  );
}

function Screen({ version }: { version: string }) {
  const { state, dispatch, getState, size } = useUIState();
  const actions = useActions();
  const [reloadKey, setReloadKey] = useState(0);
  const source = actions.sources[state.pane]!;
  const pane = usePaneData(source, actions.refreshMs, reloadKey);
  const header = useHeader(actions.loadHeader, reloadKey);
  const [run, note] = useCommand(state.output, actions.run, actions.logs);
  // the finished command, as its follow-ups see it (the keys read it through a ref: they run between renders)
  const finished = useMemo(() => (run?.code !== undefined ? { code: run.code, lines: run.lines.map((l) => l.text), stdout: run.lines.filter((l) => l.stream === "stdout").map((l) => l.text).join("\n") } : undefined), [run]);
  const finishedRef = useRef(finished);
  finishedRef.current = finished;
  // back from a command or an action: what it changed shows at once
  const hadOutput = useRef(false);
  useEffect(() => {
    if (hadOutput.current && !state.output) setReloadKey((k) => k + 1);
    hadOutput.current = !!state.output;
  }, [state.output]);

  const sort = state.sort[source.id];
  const data = pane.status === "ready" && pane.data.kind === "rows" ? pane.data : undefined;
  const all = useMemo(() => sortRows(data?.rows ?? [], sort), [data, sort?.key, sort?.desc]);
  const loaded = useRef(new Map<string, Row[]>());
  loaded.current.set(source.id, all);
  const filter = state.filter[source.id] ?? "";
  const rows = useMemo(() => filterRows(all, filter), [all, filter]);
  const cursor = Math.max(0, Math.min(state.cursor[source.id] ?? 0, rows.length - 1));
  const detailRow = state.detail && state.detail.pane === source.id ? all.find((r) => r.id === state.detail!.row) : undefined;
  const detailExtra = useDetail(source, detailRow, reloadKey);

  // without a sidebar the table has the keys
  const narrow = sidebarWidth(size.columns) === 0;
  useEffect(() => {
    if (narrow && state.focus === "sidebar") dispatch({ type: "focus", focus: "table" });
  }, [narrow, state.focus]);

  // header 1 + status 1 + main border 2
  const bodyHeight = Math.max(3, size.rows - 4);
  const sidebar = sidebarWidth(size.columns);
  const mainWidth = Math.max(20, size.columns - sidebar - 4);
  // the columns o sorts by: those the table shows at this width
  const shownColumns = useRef(new Map<string, string[]>());
  if (data) shownColumns.current.set(source.id, layoutColumns(data.columns, rows, mainWidth - 2).columns.map((c) => c.key));
  const logRow = state.logView && state.logView.pane === source.id ? (all.find((r) => r.id === state.logView!.row) ?? { id: state.logView.row, cells: {} }) : undefined;
  const logStream = useLogStream(source, logRow);
  const logKeys = useRef<LogKeys["current"]>(undefined);
  useKeys({ getState, dispatch, sources: actions.sources, rowsOf: (id) => loaded.current.get(id) ?? [], columnsOf: (id) => shownColumns.current.get(id) ?? [], page: Math.max(1, bodyHeight - 2), commands: actions.commands, reload: () => setReloadKey((k) => k + 1), quit: actions.quit,
    finished: () => finishedRef.current,
    note,
    logKeys,
  });

  let main: ReactNode;
  if (state.overlay === "help") main = <HelpView width={mainWidth} height={bodyHeight} pane={source} mode={state.logView ? "logs" : state.output ? "output" : "table"} />;
  else if (state.overlay === "palette") main = <PaletteView input={state.input} suggestions={suggest(state.input, actions.commands)} width={mainWidth} />;
  else if (state.output) main = <OutputView run={run} width={mainWidth} height={bodyHeight} />;
  else if (state.logView && logRow) main = <LogView key={`${state.logView.pane}/${state.logView.row}`} title={state.logView.title} stream={logStream} width={mainWidth} height={bodyHeight} onClose={() => dispatch({ type: "back", paneId: source.id })} keys={logKeys} />;
  else if (detailRow && pane.status === "ready" && pane.data.kind === "rows")
    main = <DetailView title={source.title} row={detailRow} columns={pane.data.columns} extra={detailExtra} width={mainWidth} height={bodyHeight} />;
  else main = <PaneView title={sidebar ? source.title : `${state.pane + 1} ${source.title}`} state={pane} rows={rows} total={all.length} filter={filter} sort={sort} cursor={cursor} focused={state.focus === "table" || !sidebar} width={mainWidth} height={bodyHeight} />;

  return (
    <Box flexDirection="column" width={size.columns} height={size.rows}>
      <Header info={header} version={version} width={size.columns} />
      <Box flexGrow={1} height={bodyHeight + 2}>
        {sidebar ? <Sidebar sources={actions.sources} selected={state.pane} focused={state.focus === "sidebar" && state.overlay === "none"} width={sidebar} /> : null}
        <Box flexGrow={1} borderStyle="round" borderColor={state.focus === "table" ? "cyan" : "gray"} paddingX={1} overflow="hidden">
          {main}
        </Box>
      </Box>
      <StatusBar state={state} paneId={source.id} actions={source.actions} hasLogs={!!source.logs} width={size.columns} followUps={state.output && finished ? followUps(state.output, finished) : undefined} />
    </Box>
  );
}

/** A render error shows as a message in the dashboard instead of tearing down the terminal. */
class Guard extends Component<{ children: ReactNode }, { error?: Error }> {
  override state: { error?: Error } = {};
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  override render() {
    if (!this.state.error) return this.props.children;
    return <Crashed error={this.state.error} />;
  }
}

function Crashed({ error }: { error: Error }) {
  const { quit } = useActions();
  // the screen that handled keys is gone: q and ctrl-c must still leave
  useInput((input, key) => (input === "q" ? quit() : key.ctrl && input === "c" ? quit(130) : undefined));
  return (
    <Box flexDirection="column" padding={1}>
      <Text color="red">the dashboard hit a bug: {error.message}</Text>
      <Text>hint: press q to quit, run the same view as a command (e.g. `devx doctor`), and report this with its --debug output</Text>
    </Box>
  );
}
