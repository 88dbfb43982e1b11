/**
 * Periodic checkpoint: pushWorkspace every `everyMs`, one at a time (the next starts `everyMs`
 * after the previous ended, never overlapping). stop() cancels the timer and waits for a running
 * push to finish (it is not aborted: a checkpoint in progress is worth keeping).
 */
import type { Relay } from "../../../../providers/relay/types.ts";
import { pushWorkspace, type PushOptions, type PushResult } from "./push.ts";

export interface Checkpointer {
  /** push now (or join the push running); resolves with its result */
  now(): Promise<PushResult>;
  /** stop the timer; resolves once no push is running */
  stop(): Promise<void>;
  /** the last successful push, if any */
  readonly last: PushResult | undefined;
}

export function createCheckpointer(
  dir: string,
  relay: Relay,
  prefix: string,
  opts: PushOptions & { onCheckpoint?(r: PushResult): void; onError?(e: unknown): void },
  everyMs: number,
): Checkpointer {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<PushResult> | undefined;
  let stopped = false;
  let last: PushResult | undefined;

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      timer = undefined;
      run().catch(() => {});
    }, everyMs);
  };
  const run = (): Promise<PushResult> => {
    if (running) return running;
    if (timer) clearTimeout(timer);
    timer = undefined;
    running = pushWorkspace(dir, relay, prefix, opts).then(
      (r) => {
        last = r;
        opts.onCheckpoint?.(r);
        return r;
      },
      (e) => {
        opts.onError?.(e);
        throw e;
      },
    );
    running
      .finally(() => {
        running = undefined;
        schedule();
      })
      .catch(() => {});
    return running;
  };
  schedule();
  return {
    now: run,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running?.catch(() => {});
    },
    get last() {
      return last;
    },
  };
}
