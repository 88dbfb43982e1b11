import { useEffect, useRef, useState } from "react";
import type { PaneSource, Row } from "../types.ts";

/** Lines kept per view: a chatty service cannot grow the heap. */
export const LOG_VIEW_LIMIT = 5000;

export interface LogStream {
  lines: string[];
  /** lines dropped from the front to stay under the limit */
  dropped: number;
  error?: string;
  /** the source stopped streaming (the container exited, the node is gone) */
  ended: boolean;
}

/**
 * A row's output while its log view is open: the source streams lines (tail, then follow) until
 * the view closes, which aborts it. Lines are batched into one render per 50 ms.
 */
export function useLogStream(source: PaneSource, row: Row | undefined): LogStream {
  const [state, setState] = useState<LogStream>({ lines: [], dropped: 0, ended: false });
  const rowId = row?.id;
  const rowRef = useRef(row);
  rowRef.current = row;
  useEffect(() => {
    const r = rowRef.current;
    if (!r || !source.logs) return;
    const ac = new AbortController();
    const buf: string[] = [];
    let dropped = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const flush = () => {
      timer = undefined;
      if (buf.length > LOG_VIEW_LIMIT) dropped += buf.splice(0, buf.length - LOG_VIEW_LIMIT).length;
      if (!ac.signal.aborted) setState((s) => ({ ...s, lines: buf.slice(), dropped }));
    };
    setState({ lines: [], dropped: 0, ended: false });
    source
      .logs(
        r,
        (line) => {
          buf.push(line);
          timer ??= setTimeout(flush, 50);
        },
        ac.signal,
      )
      .then(
        () => !ac.signal.aborted && (flush(), setState((s) => ({ ...s, ended: true }))),
        (e: unknown) => !ac.signal.aborted && (flush(), setState((s) => ({ ...s, ended: true, error: e instanceof Error ? e.message : String(e) }))),
      );
    return () => {
      if (timer) clearTimeout(timer);
      ac.abort();
    };
    // the row object changes on every refresh; its id is what matters
  }, [source, rowId]);
  return state;
}
