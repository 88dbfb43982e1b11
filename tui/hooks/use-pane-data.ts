import { useEffect, useRef, useState } from "react";
import { isDevxError } from "../../src/errors.ts";
import type { PaneData, PaneSource } from "../types.ts";

export type PaneState =
  | { status: "loading" }
  | { status: "ready"; data: PaneData }
  | { status: "error"; message: string; hint?: string };

const errorState = (e: unknown): PaneState => ({
  status: "error",
  message: e instanceof Error ? e.message : String(e),
  hint: isDevxError(e) ? e.hint || undefined : "press r to retry; run the matching devx command with --debug for details",
});

/**
 * Live data for the visible pane: loaded when the pane is shown, then every refreshMs while it
 * stays visible, and on `reloadKey` changes (r). The last result per pane is kept, so switching
 * back shows it at once while a fresh load runs. A load never overlaps the previous one.
 */
export function usePaneData(source: PaneSource, refreshMs: number, reloadKey: number): PaneState {
  const cache = useRef(new Map<string, PaneState>());
  const [state, setState] = useState<PaneState>(() => cache.current.get(source.id) ?? { status: "loading" });

  useEffect(() => {
    const ac = new AbortController();
    let inFlight = false;
    let again = false;
    setState(cache.current.get(source.id) ?? { status: "loading" });
    const load = async () => {
      if (inFlight) {
        again = true;
        return;
      }
      inFlight = true;
      let next: PaneState;
      try {
        next = { status: "ready", data: await source.load(ac.signal) };
      } catch (e) {
        next = errorState(e);
      }
      inFlight = false;
      if (ac.signal.aborted) return;
      cache.current.set(source.id, next);
      setState(next);
      if (again) {
        again = false;
        void load();
      }
    };
    void load();
    // refreshMs 0 turns polling off (tests); a source may ask for a slower pace (remote APIs)
    const every = refreshMs > 0 ? Math.max(refreshMs, source.refreshMs ?? 0) : 0;
    const timer = every > 0 ? setInterval(() => void load(), every) : undefined;
    const unsubscribe = source.subscribe?.(() => void load());
    return () => {
      ac.abort();
      if (timer) clearInterval(timer);
      unsubscribe?.();
    };
  }, [source, refreshMs, reloadKey]);

  return state;
}
