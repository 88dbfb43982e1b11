import { useEffect, useState } from "react";
import type { PaneSource, Row } from "../types.ts";

/** Extra lines for a drilled-into row, loaded once per row (r reloads). */
export function useDetail(source: PaneSource, row: Row | undefined, reloadKey: number): string[] | { error: string } | undefined {
  const [extra, setExtra] = useState<string[] | { error: string }>();
  const rowId = row?.id;
  useEffect(() => {
    setExtra(undefined);
    if (!row || !source.detail) {
      setExtra([]);
      return;
    }
    const ac = new AbortController();
    source.detail(row, ac.signal).then(
      (lines) => !ac.signal.aborted && setExtra(lines),
      (e: unknown) => !ac.signal.aborted && setExtra({ error: e instanceof Error ? e.message : String(e) }),
    );
    return () => ac.abort();
    // the row object changes on every refresh; its id is what matters
  }, [source, rowId, reloadKey]);
  return extra;
}
