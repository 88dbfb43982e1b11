import { closeSync, openSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { ProviderError } from "../errors.ts";
import type { Clock } from "./clock.ts";
import type { Exec } from "./exec.ts";
import { selfArgv } from "./self.ts";

export interface SpawnSelfOptions<T> {
  /** devx's own arguments for the background run (a command and its flags; never a secret) */
  args: string[];
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** the child's stdout and stderr are appended here (mode 0600) */
  log: string;
  /** what the child is, for the error when it exits before it is ready ("the devx up supervisor") */
  what: string;
  /** asked until it returns a value (the child is ready) or the child exits; `pid` is the child's */
  readyWhen(pid: number): Promise<T | undefined>;
  /** how often readyWhen is asked (default 20 ms) */
  pollMs?: number;
}

/**
 * The one way devx re-runs itself in the background (`up --detach`, `bridge … --detach`): this
 * same executable with `args`, detached from the terminal (stdin closed, output to `log`), and
 * awaited until `readyWhen` says it is ready. If the child exits first, a ProviderError carries
 * its exit code and the last lines of its log.
 */
export async function spawnSelf<T>(exec: Exec, clock: Pick<Clock, "sleep">, o: SpawnSelfOptions<T>): Promise<{ pid: number; ready: T; exited: Promise<number> }> {
  const fd = openSync(o.log, "a", 0o600);
  const child = exec.spawn([...selfArgv(), ...o.args], { cwd: o.cwd, env: o.env, stdin: "ignore", stdout: fd, stderr: fd });
  closeSync(fd);
  let exitCode: number | undefined;
  void child.exited.then((c) => (exitCode = c));
  for (;;) {
    const ready = await o.readyWhen(child.pid).catch(() => undefined);
    if (ready !== undefined) return { pid: child.pid, ready, exited: child.exited };
    if (exitCode !== undefined) {
      const tail = (await readFile(o.log, "utf8").catch(() => "")).trim().split("\n").slice(-5).join("\n");
      throw new ProviderError(`${o.what} exited (code ${exitCode}) before it was ready${tail ? `:\n${tail}` : ""}`, `see ${o.log}`);
    }
    await clock.sleep(o.pollMs ?? 20);
  }
}
