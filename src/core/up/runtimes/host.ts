import { resolve } from "node:path";
import type { Exec } from "../../../platform/exec.ts";
import { pumpLines } from "../logs.ts";
import type { NodeRuntime, Running, StartContext } from "./types.ts";

/**
 * A host service: one process in its own process group (exec.spawn), so stop and crash cleanup
 * reach everything it started. A command string runs through `sh -c`, a list is the argv. It is
 * the user's own process: it keeps the user's whole environment (userEnv), credentials included.
 */
export function hostRuntime(exec: Exec): NodeRuntime {
  return {
    async start(ctx: StartContext): Promise<Running> {
      const s = ctx.node.service!;
      const argv = Array.isArray(s.command) ? s.command : ["sh", "-c", s.command!];
      const cwd = resolve(ctx.baseDir, s.cwd ?? ".");
      // the supervisor's own marker must not make a service's `devx up` think it is a supervisor
      const proc = exec.spawn(argv, { cwd, env: { ...ctx.env, DEVX_UP_SUPERVISOR: undefined }, stdin: "ignore", userEnv: true });
      const pumps = Promise.all([
        pumpLines(proc.stdout, (l) => ctx.line(l, "stdout")).catch(() => {}),
        pumpLines(proc.stderr, (l) => ctx.line(l, "stderr")).catch(() => {}),
      ]);
      let gone = false;
      const exited = proc.exited.then(async (code) => {
        gone = true;
        // The leader is gone; whatever it left behind in its group goes with it.
        proc.kill("SIGKILL");
        await pumps;
        return code;
      });
      return {
        pid: proc.pid,
        exited,
        async stop(graceMs) {
          if (gone) return void (await exited);
          proc.kill("SIGTERM");
          let timer: ReturnType<typeof setTimeout> | undefined;
          const forced = new Promise<void>((r) => {
            timer = setTimeout(() => {
              proc.kill("SIGKILL");
              r();
            }, graceMs);
          });
          await Promise.race([exited.then(() => {}), forced]);
          clearTimeout(timer);
          await exited;
        },
        async exec(check, timeoutMs) {
          const r = await exec.run(check, { cwd, env: ctx.env, timeoutMs, userEnv: true });
          return r.timedOut ? 124 : r.code;
        },
      };
    },
  };
}
