import * as v from "valibot";
import { defineCommand, flag, list, option, optionWithDefault } from "../define.ts";
import { PermissionError, UsageError } from "../../errors.ts";

/**
 * The sandbox runner (`devx runner`, started inside each session's sandbox by the control plane).
 * Hidden from help: people never start it by hand. Flags are the contract with whatever starts it;
 * docs/session-protocol.md describes what it serves and its exit codes.
 */
export default defineCommand({
  path: ["runner"],
  group: "Pipelines & CI/CD",
  dryRun: "unsupported",
  summary: "sandbox session runner: terminals, files, commands, previews over one WebSocket (started by the control plane)",
  hidden: true,
  options: v.object({
    session: option("the session id this runner serves", { placeholder: "id" }),
    workspace: option("the workspace root (default: the working directory)", { placeholder: "dir" }),
    listen: optionWithDefault("address to listen on (port 0: any free port)", "127.0.0.1:7070", { placeholder: "host:port" }),
    secretFile: option("file holding the session secret (hex or base64url; 0600; removed once read)", { placeholder: "path" }),
    secretStdin: flag("read the session secret from stdin"),
    idle: optionWithDefault("stop after this long without activity", "30m", { placeholder: "duration" }),
    maxLifetime: optionWithDefault("stop this long after start, whatever the activity", "12h", { placeholder: "duration" }),
    idleWarning: optionWithDefault("tell clients this long before an idle stop", "1m", { placeholder: "duration" }),
    heartbeat: optionWithDefault("ping clients this often", "15s", { placeholder: "duration" }),
    heartbeatTimeout: optionWithDefault("close a client silent for this long", "45s", { placeholder: "duration" }),
    scrollback: optionWithDefault("terminal output kept for replay (at least 1MiB)", "2MiB", { placeholder: "size" }),
    shell: option("program of a terminal opened without argv (default: $SHELL, else /bin/bash)", { placeholder: "path" }),
    publicPort: list("preview port reachable without a token (repeatable)", { placeholder: "port" }),
    killGrace: optionWithDefault("time between SIGHUP and SIGKILL when ending a process tree", "2s", { placeholder: "duration" }),
  }),
  async run(opts, deps) {
    const { parseDuration, parseSizeMiB } = await import("../../config/duration.ts");
    const { startRunner } = await import("../../runner/server.ts");
    const { RUNNER_DEFAULTS } = await import("../../runner/session.ts");
    const { readSecretFile, secretFromText, SecretError } = await import("../../runner/secret.ts");
    const { makeUndumpable, canStopTty } = await import("../../runner/os.ts");

    const hint = "the runner is started by the control plane (devx session serve); do not run it by hand";
    if (!opts.session || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(opts.session)) throw new UsageError("devx runner needs --session <id> (letters, digits, . _ -)", hint);
    if (!opts.secretFile === !opts.secretStdin) throw new UsageError("devx runner needs exactly one of --secret-file and --secret-stdin", "the secret never goes in argv or the environment");
    const duration = (flagName: string, text: string) => {
      const ms = parseDuration(text);
      if (ms === undefined || ms <= 0) throw new UsageError(`bad --${flagName} "${text}"`, "use a duration such as 30s, 15m or 2h");
      return ms;
    };
    const listen = /^(.+):(\d{1,5})$/.exec(opts.listen);
    if (!listen || Number(listen[2]) > 65535) throw new UsageError(`bad --listen "${opts.listen}"`, "use host:port, e.g. 0.0.0.0:7070");
    const scrollbackMiB = parseSizeMiB(opts.scrollback);
    if (scrollbackMiB === undefined || scrollbackMiB < 1) throw new UsageError(`bad --scrollback "${opts.scrollback}"`, "use a size of at least 1MiB, e.g. 2MiB");
    const publicPorts = opts.publicPort.map((p) => {
      const n = Number(p);
      if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`bad --public-port "${p}"`, "ports are 1–65535");
      return n;
    });

    const log = (line: string) => deps.io.err.write(`${new Date().toISOString()} runner ${opts.session}: ${line}\n`);
    let secret: Uint8Array;
    try {
      secret = opts.secretFile ? readSecretFile(opts.secretFile, log) : secretFromText(await deps.io.readStdin());
    } catch (e) {
      if (e instanceof SecretError) throw new PermissionError(e.message, "write the secret to a 0600 file owned by the runner's user, or pipe it to --secret-stdin");
      throw e;
    }
    if (!makeUndumpable()) log("warning: could not mark the runner undumpable; same-user processes may read its memory");
    if (!canStopTty()) log("warning: no libc through FFI; terminal output cannot be paused for slow clients");

    // children get the runner's environment minus anything that configures the runner itself
    const env: Record<string, string> = {};
    for (const [k, val] of Object.entries(deps.env)) if (val !== undefined && !k.startsWith("DEVX_RUNNER_")) env[k] = val;
    const shell = opts.shell ?? deps.env.SHELL ?? "/bin/bash";
    let handle: import("../../runner/server.ts").RunnerHandle;
    try {
      handle = startRunner({
        ...RUNNER_DEFAULTS,
        session: opts.session,
        secret,
        workspace: opts.workspace ?? deps.cwd,
        hostname: listen[1]!,
        port: Number(listen[2]),
        idleMs: duration("idle", opts.idle),
        maxLifetimeMs: duration("max-lifetime", opts.maxLifetime),
        idleWarnMs: duration("idle-warning", opts.idleWarning),
        heartbeatMs: duration("heartbeat", opts.heartbeat),
        heartbeatTimeoutMs: duration("heartbeat-timeout", opts.heartbeatTimeout),
        scrollback: scrollbackMiB * 1024 * 1024,
        shell: [shell, "-l"],
        env,
        publicPorts,
        killGraceMs: duration("kill-grace", opts.killGrace),
        log,
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "EADDRINUSE") throw new UsageError(`${opts.listen} is in use`, "pick another --listen port");
      if (code === "ENOENT" || code === "ENOTDIR") throw new UsageError(`the workspace ${opts.workspace ?? deps.cwd} does not exist`, "pass --workspace <dir>");
      throw e;
    }
    const onAbort = () => void handle.stop("stopped");
    deps.signal.addEventListener("abort", onAbort, { once: true });
    // the one line on stdout: whoever started the runner learns the port (useful with port 0)
    deps.io.out.write(`${JSON.stringify({ ready: true, port: handle.port, pid: process.pid, protocol: 1 })}\n`);
    const code = await handle.done;
    deps.signal.removeEventListener("abort", onAbort);
    return code;
  },
});
