import { useCallback, useEffect, useState } from "react";
import { tokenize } from "../palette.ts";
import { isDevxError } from "../../src/errors.ts";
import type { CommandRunner } from "../types.ts";
import type { OutputSpec } from "../state/reducer.ts";
import type { LogStore } from "../sources/log-store.ts";

export interface CommandRun {
  line: string;
  lines: Array<{ text: string; stream: "stdout" | "stderr" }>;
  /** undefined while running */
  code?: number;
}

const MAX_LINES = 2000;

/**
 * Runs the palette's command line while its output is on screen. Leaving the output (Esc) or
 * quitting aborts a command still running, so nothing outlives the view that started it.
 */
export function useCommand(output: OutputSpec | undefined, run: CommandRunner, logs: LogStore): [CommandRun | undefined, (line: string) => void] {
  const [current, setCurrent] = useState<CommandRun>();
  // a line from the dashboard itself (a follow-up's effect), after the command's output
  const note = useCallback((text: string) => setCurrent((c) => c && { ...c, lines: [...c.lines, { text, stream: "stdout" as const }].slice(-MAX_LINES) }), []);

  useEffect(() => {
    if (output === undefined) {
      setCurrent(undefined);
      return;
    }
    const { line } = output;
    const ac = new AbortController();
    let lines: CommandRun["lines"] = [];
    setCurrent({ line, lines });
    let pending: ReturnType<typeof setTimeout> | undefined;
    // batch output into one re-render per tick: a chatty command must not re-render per line
    const flush = () => {
      pending = undefined;
      if (!ac.signal.aborted) setCurrent({ line, lines });
    };
    logs.add("palette", `devx ${line}`);
    const onLine = (text: string, stream: "stdout" | "stderr") => {
      lines = [...lines, { text, stream }].slice(-MAX_LINES);
      pending ??= setTimeout(flush, 16);
    };
    const started = output.task
      ? output.task((l) => onLine(l, "stdout"), ac.signal).then(
          () => 0,
          (e: unknown) => {
            onLine(e instanceof Error ? e.message : String(e), "stderr");
            if (isDevxError(e) && e.hint) onLine(`hint: ${e.hint}`, "stderr");
            return 1;
          },
        )
      : run(output.command?.args ?? tokenize(line), onLine, ac.signal, output.command?.env);
    started.then(
      (code) => {
        if (pending) clearTimeout(pending);
        logs.add("palette", `devx ${line}: exit ${code}`, code === 0 ? "info" : "error");
        if (!ac.signal.aborted) setCurrent({ line, lines, code });
      },
      (e: unknown) => {
        if (pending) clearTimeout(pending);
        const msg = e instanceof Error ? e.message : String(e);
        logs.add("palette", `devx ${line}: ${msg}`, "error");
        if (!ac.signal.aborted) setCurrent({ line, lines: [...lines, { text: msg, stream: "stderr" }], code: -1 });
      },
    );
    return () => {
      if (pending) clearTimeout(pending);
      ac.abort();
    };
  }, [output]); // the object, not the text: running the same line again is a new run

  return [current, note];
}
