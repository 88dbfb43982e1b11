import type { Deps } from "../src/cli/deps.ts";
import type { Command } from "../src/cli/define.ts";
import type { CommandRunner, HeaderInfo } from "./types.ts";
import { resolve } from "node:path";
import { selfArgv } from "../src/platform/self.ts";

/**
 * `devx` with no arguments on a terminal. Everything here (React, Ink) is loaded only on this
 * path: src/cli/run.ts imports this module dynamically, so `devx --version` never pays for it.
 */
export async function runDashboard(deps: Deps, commands: Command[]): Promise<number> {
  // --no-color and NO_COLOR hold here too: Ink's colour library reads FORCE_COLOR when it loads
  if (deps.global.noColor || deps.env.NO_COLOR) process.env.FORCE_COLOR = "0";
  const [{ render }, { App }, { LogStore }, { defaultSources }, { VERSION }] = await Promise.all([
    import("ink"),
    import("./App.tsx"),
    import("./sources/log-store.ts"),
    import("./sources/index.ts"),
    import("../src/version.ts"),
  ]);
  const logs = new LogStore();
  // use-cases called by the panes report into the Logs pane, never onto the screen Ink owns
  const paneDeps = dashboardDeps(deps, logs);
  let code = 0;
  const instance = render(
    <App
      version={VERSION}
      // the pane with live data from this build's providers; the sidebar keeps the product's order
      initialPane="containers"
      sources={defaultSources(paneDeps, logs)}
      commands={commands.filter((c) => !c.hidden).map((c) => ({ path: c.path, summary: c.summary }))}
      run={selfRunner(deps)}
      loadHeader={() => loadHeader(paneDeps)}
      logs={logs}
      refreshMs={Number(deps.env.DEVX_TUI_REFRESH_MS) || 3000}
      quit={(exitCode = 0) => {
        code = exitCode;
        instance.unmount();
      }}
    />,
    // Ctrl-C arrives as a key in raw mode: the app handles it so that it quits like q
    // interactive: the dashboard only opens when stdin and stdout are terminals; Ink would otherwise
    // turn itself non-interactive whenever CI is set in the environment and draw nothing until exit
    { alternateScreen: true, interactive: true, exitOnCtrlC: false, patchConsole: true, maxFps: 30 },
  );
  // SIGINT/SIGTERM from outside the terminal (kill) abort deps.signal: leave the screen the same way
  const onAbort = () => {
    code = 130;
    instance.unmount();
  };
  deps.signal.addEventListener("abort", onAbort, { once: true });
  try {
    await instance.waitUntilExit();
  } finally {
    deps.signal.removeEventListener("abort", onAbort);
    instance.cleanup();
  }
  return code;
}

/**
 * Deps for code the panes call: its status output and events go to the Logs pane, it cannot
 * prompt (the dashboard owns the keyboard), and it has nothing to read from stdin.
 */
function dashboardDeps(deps: Deps, logs: import("./sources/log-store.ts").LogStore): Deps {
  const sink = (source: string, level: "info" | "warn") => {
    let buf = "";
    return {
      write(s: string) {
        buf += s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
        const lines = buf.split("\n");
        buf = lines.pop()!;
        for (const l of lines) if (l.trim()) logs.add(source, l, level);
      },
      isTTY: false,
      columns: 100,
    };
  };
  return {
    ...deps,
    io: { out: sink("stdout", "info"), err: sink("stderr", "warn"), stdinIsTTY: false, color: false, readLine: async () => null, readStdin: async () => null },
    emit: logs.emit,
    confirm: async (question) => {
      const { UsageError } = await import("../src/errors.ts");
      throw new UsageError(`${question.replace(/\?$/, "")}: the dashboard cannot ask`, "run it from the command palette with -y (:<command> -y)");
    },
  };
}

async function loadHeader(deps: Deps): Promise<HeaderInfo> {
  // the VM query runs beside the config read; a VM provider that is missing or slow only makes
  // the VM field say so
  const vm = import("../src/core/vm/index.ts")
    .then(({ vmStatus }) => vmStatus(deps))
    .then(
      (s) => `${s.vm} ${s.state}`,
      () => "n/a",
    );
  // what is detected, not the setting: "auto" tells nobody which runtime the panes talk to
  const provider = (preferred?: string) => import("../src/core/inventory/containers.ts").then(({ runtimeName }) => runtimeName(deps, preferred));
  try {
    const found = await deps.findConfig();
    if (!found) return { vm: await vm, provider: await provider() };
    const { projectName } = await import("../src/config/project.ts");
    return { project: projectName(found, deps.cwd), provider: await provider(found.config.provider), vm: await vm };
  } catch (e) {
    return { vm: await vm, provider: await provider(), configError: e instanceof Error ? e.message : String(e) };
  }
}

/**
 * The palette runs a command as a child of this binary, through the same registry as the shell
 * would: the child's output cannot draw over the dashboard, and Esc can stop it (process group).
 * Its stdin is closed and its output is not a TTY, so it never prompts (destructive commands need -y).
 */
export function selfRunner(deps: Pick<Deps, "exec"> & Partial<Pick<Deps, "global" | "cwd">>, self: string[] = selfArgv()): CommandRunner {
  // the project the dashboard was opened on (devx -f x.yaml --profile p) is the children's too
  const project: Record<string, string> = {};
  if (deps.global?.file) project.DEVX_FILE = resolve(deps.cwd ?? process.cwd(), deps.global.file);
  if (deps.global?.profile) project.DEVX_PROFILE = deps.global.profile;
  return async (args, onLine, signal, env) => {
    // env carries what must not be in argv (a share ID holds its passphrase); status comes back as
    // JSON events on stderr (src/cli/deps.ts), so long work shows as progress bars
    const child = deps.exec.spawn([...self, ...args], { stdin: "ignore", env: { ...project, ...env, NO_COLOR: "1", FORCE_COLOR: "0", DEVX_EVENTS_JSONL_FOR: String(process.pid) } });
    const onAbort = () => child.kill("SIGTERM");
    signal.addEventListener("abort", onAbort, { once: true });
    const pump = async (stream: ReadableStream<Uint8Array>, name: "stdout" | "stderr") => {
      const dec = new TextDecoder();
      let buf = "";
      for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
        buf += dec.decode(chunk, { stream: true });
        const parts = buf.split("\n");
        buf = parts.pop()!;
        for (const p of parts) onLine(p, name);
      }
      buf += dec.decode();
      if (buf) onLine(buf, name);
    };
    try {
      const [, , code] = await Promise.all([pump(child.stdout, "stdout"), pump(child.stderr, "stderr"), child.exited]);
      return code;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  };
}
