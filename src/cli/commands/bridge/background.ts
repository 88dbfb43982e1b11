import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { option } from "../../define.ts";
import type { Deps } from "../../deps.ts";
import { readJson, writeFileAtomic } from "../../../platform/atomic.ts";
import { spawnSelf } from "../../../platform/spawn-self.ts";
import { columns, liveRegion } from "../../views/live-region.ts";

/** Flags every bridge command shares. */
export const kubeFlags = {
  context: option("kubeconfig context (default: bridge.context, then the kubeconfig's current context)", { placeholder: "name" }),
  namespace: option("namespace (default: bridge.namespace, then the context's namespace)", { short: "n", placeholder: "ns" }),
};


/** The kube flags as arguments again, for the background run of the same command. */
export function kubeArgs(opts: { context?: string; namespace?: string }): string[] {
  return [...(opts.context ? ["--context", opts.context] : []), ...(opts.namespace ? ["--namespace", opts.namespace] : [])];
}

/**
 * `--detach`: run the same command (`args`, rebuilt from its parsed options, plus the global flags
 * that select the project) in the background through platform's spawnSelf, its output in a log
 * file, and return once it reports ready (through DEVX_READY_FILE) — or fail with the tail of its
 * log if it exits first.
 */
export async function detach(deps: Deps, kind: string, args: string[]): Promise<{ pid: number; session: string; log: string }> {
  const dir = join(deps.paths.state, "bridge", "detached");
  await mkdir(dir, { recursive: true });
  const id = `${kind}-${Date.now()}-${process.pid}`;
  const readyFile = join(dir, `${id}.ready`);
  const log = join(dir, `${id}.log`);
  const g = deps.global;
  const globals = [...(g.file ? ["-f", g.file] : []), ...(g.profile ? ["--profile", g.profile] : []), ...(g.debug ? ["--debug"] : [])];
  const r = await spawnSelf(deps.exec, deps.clock, {
    args: [...args, ...globals],
    env: { DEVX_READY_FILE: readyFile, DEVX_DETACHED: "1", NO_COLOR: "1" },
    log,
    what: `the background ${kind}`,
    readyWhen: async () => (await readJson<{ session: string }>(readyFile).catch(() => undefined))?.session,
  });
  return { pid: r.pid, session: r.ready, log };
}

/** In the detached child: tell the parent we are up. */
export async function reportReady(deps: Deps, session: string): Promise<void> {
  const f = deps.env.DEVX_READY_FILE;
  if (f) await writeFileAtomic(f, JSON.stringify({ session, pid: process.pid }));
}

/** Resolve when Ctrl-C / SIGTERM arrives, or when `ended` settles. */
export function untilStopped(signal: AbortSignal, ended?: Promise<unknown>): Promise<string> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve("signal");
    signal.addEventListener("abort", () => resolve("signal"), { once: true });
    ended?.then((why) => resolve(String(why)));
  });
}

/**
 * A live status table on stderr: redrawn in place on a terminal, printed when it changes otherwise.
 * Returns a stop function.
 */
export function liveTable(deps: Deps, rows: () => string[][], header: string[], stableColumns?: number[]): () => void {
  if (deps.global.json) return () => {};
  const err = deps.io.err;
  const region = liveRegion(err);
  let lastText = "";
  const draw = () => {
    const now = rows();
    const text = columns(header, now);
    // without a terminal, counters alone do not reprint the table (logs stay readable)
    const key = err.isTTY || !stableColumns ? text : JSON.stringify([header, ...now].map((r) => stableColumns.map((i) => r[i])));
    if (key === lastText) return;
    region.show(text);
    lastText = key;
  };
  draw();
  const t = setInterval(draw, err.isTTY ? 500 : 2000);
  return () => {
    clearInterval(t);
    draw();
  };
}

