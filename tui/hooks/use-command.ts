import { useCallback, useEffect, useState } from "react";
import { tokenize } from "../palette.ts";
import { isDevxError } from "../../src/errors.ts";
import type { CommandRunner } from "../types.ts";
import type { OutputSpec } from "../state/reducer.ts";
import type { LogStore } from "../sources/log-store.ts";
import type { DevxEvent } from "../../src/events/types.ts";

export interface CommandRun {
  line: string;
  lines: Array<{ text: string; stream: "stdout" | "stderr" }>;
  /** undefined while running */
  code?: number;
  /** long work in flight, by event id: drawn as progress bars */
  progress?: Progress[];
}

export interface Progress {
  id: string;
  title: string;
  bytes: number;
  total?: number;
}

/**
 * The child's events: the dashboard runs commands with DEVX_EVENTS=jsonl, so status arrives on
 * stderr as one JSON event per line (src/events/types.ts) instead of text made for a terminal.
 * Progress becomes a bar; everything else a line, as the text renderer would print it.
 */
export function eventLines(raw: string): { lines: string[]; progress?: Progress } | undefined {
  if (!raw.startsWith("{") || !raw.includes('"type"')) return undefined;
  let e: DevxEvent;
  try {
    e = JSON.parse(raw) as DevxEvent;
  } catch {
    return undefined;
  }
  const detail = (d?: string) => (d ? ` — ${d}` : "");
  switch (e.type) {
    case "progress":
      return { lines: [], progress: { id: e.id, title: e.title, bytes: e.bytes, total: e.total } };
    case "step":
      return { lines: [`${{ started: "•", done: "✓", skipped: "-", failed: "✗" }[e.status]} ${e.title}${e.status === "skipped" ? " (skipped)" : ""}${detail(e.detail)}`] };
    case "warning":
      return { lines: [`warning: ${e.message}`, ...(e.hint ? [`  hint: ${e.hint}`] : [])] };
    case "info":
      return { lines: e.message.split("\n") };
    case "log":
      return { lines: [`${e.source} | ${e.line}`] };
    case "state":
      return { lines: [`${e.node}: ${e.state}`] };
    default:
      return undefined;
  }
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
    let progress = new Map<string, Progress>();
    const snapshot = () => (progress.size ? [...progress.values()] : undefined);
    setCurrent({ line, lines });
    let pending: ReturnType<typeof setTimeout> | undefined;
    // batch output into one re-render per tick: a chatty command must not re-render per line
    const flush = () => {
      pending = undefined;
      if (!ac.signal.aborted) setCurrent({ line, lines, progress: snapshot() });
    };
    logs.add("palette", `devx ${line}`);
    const onLine = (text: string, stream: "stdout" | "stderr") => {
      const ev = stream === "stderr" ? eventLines(text) : undefined;
      if (ev?.progress) progress = new Map(progress).set(ev.progress.id, ev.progress);
      const add = ev ? ev.lines : [text];
      if (add.length) lines = [...lines, ...add.map((t) => ({ text: t, stream }))].slice(-MAX_LINES);
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
        if (!ac.signal.aborted) setCurrent({ line, lines, code, progress: snapshot() });
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
