import { createContext, useContext } from "react";
import type { Intent, UIState } from "./reducer.ts";
import type { CommandInfo } from "../palette.ts";
import type { CommandRunner, HeaderInfo, PaneSource } from "../types.ts";
import type { LogStore } from "../sources/log-store.ts";

/** What is on screen and how to change it. */
export interface UIStateValue {
  state: UIState;
  dispatch(i: Intent): void;
  /** the latest state, ahead of the frame while keys are being handled */
  getState(): UIState;
  size: { columns: number; rows: number };
}

/** What the dashboard can do in the world: load panes, run commands, quit. */
export interface ActionsValue {
  sources: PaneSource[];
  commands: CommandInfo[];
  run: CommandRunner;
  loadHeader(): Promise<HeaderInfo>;
  logs: LogStore;
  refreshMs: number;
  /** leave the dashboard; Ctrl-C leaves with 130 like any cancelled devx command */
  quit(exitCode?: number): void;
}

export const UIStateContext = createContext<UIStateValue | null>(null);
export const ActionsContext = createContext<ActionsValue | null>(null);

export function useUIState(): UIStateValue {
  const v = useContext(UIStateContext);
  if (!v) throw new Error("useUIState outside <App>");
  return v;
}

export function useActions(): ActionsValue {
  const v = useContext(ActionsContext);
  if (!v) throw new Error("useActions outside <App>");
  return v;
}
