import { useCallback, useRef, useState } from "react";
import { reduce, type Intent, type UIState } from "../state/reducer.ts";

/**
 * useReducer with a synchronous view of the latest state. Keys typed faster than React renders
 * (a paste, tmux send-keys) must each see the state the previous key produced, not the state of
 * the last frame: `:help` must not be read as `:`, then `h` (focus sidebar), `e`, `l`, `p`.
 */
export function useUIReducer(init: () => UIState): [UIState, (i: Intent) => void, () => UIState] {
  const ref = useRef<UIState>(undefined as unknown as UIState);
  if (ref.current === undefined) ref.current = init();
  const [state, setState] = useState(ref.current);
  const dispatch = useCallback((i: Intent) => {
    ref.current = reduce(ref.current, i);
    setState(ref.current);
  }, []);
  const get = useCallback(() => ref.current, []);
  return [state, dispatch, get];
}
