import { ProviderError } from "../errors.ts";

/**
 * The only door to subprocesses. argv arrays only (no shell), secrets through `env` or `input`
 * (never argv), every child in its own process group so cancel/timeout kills the whole tree.
 * Helper children do not inherit credential variables (mergeEnv); the user's own commands opt in
 * with `userEnv`.
 */
export interface ExecOptions {
  cwd?: string;
  /** merged over the parent environment; a value of undefined removes the variable */
  env?: Record<string, string | undefined>;
  /**
   * The user's own command (`devx run`, `devx shell`, `up` host services and their exec checks):
   * it keeps the whole environment, credentials included. Without it a child is a helper
   * (podman, criu, ssh-keygen, limactl…) and gets no credential variables (see scrubbed).
   */
  userEnv?: boolean;
  /** bytes for stdin (secrets go here, never in argv) */
  input?: string | Uint8Array;
  timeoutMs?: number;
  signal?: AbortSignal;
  onStdout?: (chunk: Uint8Array) => void;
  onStderr?: (chunk: Uint8Array) => void;
  /** connect the child to this terminal (ssh, shells); nothing is captured */
  inherit?: boolean;
}

export interface ExecResult {
  argv: string[];
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface Spawned {
  pid: number;
  stdin: import("bun").FileSink | undefined;
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  exited: Promise<number>;
  /** signal the child's whole process group */
  kill(signal?: NodeJS.Signals | number): void;
}

export interface SpawnOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** as ExecOptions.userEnv */
  userEnv?: boolean;
  /** "pipe" gives a writable stdin; "ignore" closes it */
  stdin?: "pipe" | "ignore" | "inherit";
  stdout?: "pipe" | "ignore" | "inherit" | number;
  stderr?: "pipe" | "ignore" | "inherit" | number;
  /**
   * The child gets SIGKILL when devx dies, however it dies (SIGKILL, OOM, a closed lid): for
   * helpers that only make sense while devx reads or writes their other end (a volume export, an
   * import, a log follower). Linux only (util-linux `setpriv --pdeathsig`); elsewhere a no-op.
   */
  dieWithParent?: boolean;
}

export interface Exec {
  run(argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  spawn(argv: string[], opts?: SpawnOptions): Spawned;
  which(bin: string): string | null;
}

/**
 * Credentials in the environment that devx itself may use (relays, Cloudflare, Tailscale, share
 * IDs, basic-auth passwords) and generic secret-looking names. No helper child needs them: a
 * helper that does (gcloud for a gs:// relay) gets them passed in `env`, by name.
 */
const CREDENTIAL_PREFIX = /^(AWS_|GOOGLE_|GCLOUD_|CLOUDSDK_|GCS_HMAC_|AZURE_|CLOUDFLARE_|CF_API_|TAILSCALE_|TS_AUTHKEY$|TS_API_KEY$|TS_OAUTH_|DEVX_SHARE_ID$|DEVX_BASIC_AUTH_PASSWORD$)/;
const SECRET_NAME = /(^|_)(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|ACCESS_KEY|PRIVATE_KEY|AUTHKEY|CREDENTIALS?)(_|$)/;

/** Is this variable left out of a helper child's inherited environment? */
export function scrubbed(name: string): boolean {
  const n = name.toUpperCase();
  return CREDENTIAL_PREFIX.test(n) || SECRET_NAME.test(n);
}

/** devx re-executing itself (a detached supervisor, a bridge, the dashboard's palette) is devx, not a helper. */
function isSelf(bin: string): boolean {
  return bin === process.execPath;
}

/**
 * The child's environment: the parent's (credential variables left out unless `keep`), then
 * `extra` over it (a value of undefined removes a variable). Whatever `extra` names explicitly is
 * passed, scrubbed name or not.
 */
export function mergeEnv(extra?: Record<string, string | undefined>, keep = false): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && (keep || !scrubbed(k))) out[k] = v;
  for (const [k, v] of Object.entries(extra ?? {})) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

function killGroup(pid: number, signal: NodeJS.Signals | number = "SIGTERM"): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

let setpriv: string | null | undefined;
/** argv prefixed so the kernel kills the child when this process dies (see SpawnOptions.dieWithParent) */
export function withParentDeathSignal(argv: string[]): string[] {
  if (process.platform !== "linux") return argv;
  setpriv ??= Bun.which("setpriv");
  return setpriv ? [setpriv, "--pdeathsig", "KILL", "--", ...argv] : argv;
}

function notInstalled(bin: string): ProviderError {
  return new ProviderError(`${bin} is not installed or not on PATH`, `install ${bin}, then run \`devx doctor\``);
}

async function drain(stream: ReadableStream<Uint8Array> | null | undefined, sink?: (c: Uint8Array) => void): Promise<string> {
  if (!stream) return "";
  const dec = new TextDecoder();
  let text = "";
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
    sink?.(chunk);
    text += dec.decode(chunk, { stream: true });
  }
  return text + dec.decode();
}

export const systemExec: Exec = {
  which: (bin) => Bun.which(bin),

  async run(argv, opts = {}) {
    const [bin] = argv;
    if (!bin) throw new ProviderError("empty command", "this is a bug in devx");
    let proc: ReturnType<typeof Bun.spawn>;
    try {
      proc = Bun.spawn(argv, {
        cwd: opts.cwd,
        env: mergeEnv(opts.env, opts.userEnv || isSelf(bin)),
        stdin: opts.inherit ? "inherit" : opts.input !== undefined ? new Blob([opts.input as BlobPart]) : "ignore",
        stdout: opts.inherit ? "inherit" : "pipe",
        stderr: opts.inherit ? "inherit" : "pipe",
        detached: !opts.inherit,
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw notInstalled(bin);
      throw e;
    }
    let timedOut = false;
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          killGroup(proc.pid, "SIGKILL");
        }, opts.timeoutMs)
      : undefined;
    const onAbort = () => killGroup(proc.pid, "SIGTERM");
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const [stdout, stderr, code] = await Promise.all([
        opts.inherit ? "" : drain(proc.stdout as ReadableStream<Uint8Array>, opts.onStdout),
        opts.inherit ? "" : drain(proc.stderr as ReadableStream<Uint8Array>, opts.onStderr),
        proc.exited,
      ]);
      return { argv, code, stdout, stderr, timedOut };
    } finally {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
    }
  },

  spawn(argv, opts = {}) {
    const [bin] = argv;
    if (!bin) throw new ProviderError("empty command", "this is a bug in devx");
    // behind setpriv a missing program is setpriv's exit 127, not ENOENT: look it up first
    if (opts.dieWithParent && !bin.includes("/") && !Bun.which(bin)) throw notInstalled(bin);
    let proc;
    try {
      proc = Bun.spawn(opts.dieWithParent ? withParentDeathSignal(argv) : argv, {
        cwd: opts.cwd,
        env: mergeEnv(opts.env, opts.userEnv || isSelf(bin)),
        stdin: opts.stdin ?? "ignore",
        stdout: opts.stdout ?? "pipe",
        stderr: opts.stderr ?? "pipe",
        detached: true,
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw notInstalled(bin);
      throw e;
    }
    const p = proc;
    return {
      pid: p.pid,
      stdin: (opts.stdin === "pipe" ? p.stdin : undefined) as import("bun").FileSink | undefined,
      stdout: p.stdout as ReadableStream<Uint8Array>,
      stderr: p.stderr as ReadableStream<Uint8Array>,
      exited: p.exited,
      kill: (signal) => killGroup(p.pid, signal),
    };
  },
};

/**
 * A command that failed, as the `cause` of the ProviderError execCheck throws: callers that know
 * the tool (an image pull, a port bind) read its exit code and output from here, never from the
 * message. Its message is the whole stderr, so --debug shows it.
 */
export class ExecFailure extends Error {
  constructor(readonly result: ExecResult) {
    super(result.stderr.trim() || result.stdout.trim() || `exit ${result.code}`);
    this.name = "ExecFailure";
  }
  /** the last non-empty line of stderr (else stdout): usually the tool's own one-line error */
  get lastLine(): string | undefined {
    return (this.result.stderr.trim() || this.result.stdout.trim()).split("\n").map((l) => l.trim()).filter(Boolean).pop();
  }
}

/** Run and throw a ProviderError carrying the tail of stderr when the command fails. */
export async function execCheck(exec: Exec, argv: string[], opts?: ExecOptions, hint?: string): Promise<ExecResult> {
  const r = await exec.run(argv, opts);
  if (r.timedOut) throw new ProviderError(`\`${argv.slice(0, 3).join(" ")}\` timed out after ${opts?.timeoutMs} ms`, hint ?? "retry, or run with --debug");
  if (r.code !== 0) {
    const tail = (r.stderr.trim() || r.stdout.trim()).split("\n").slice(-3).join(" | ");
    throw new ProviderError(`\`${argv.slice(0, 3).join(" ")}\` failed (exit ${r.code}): ${tail}`, hint ?? "run with --debug for the full output", { cause: new ExecFailure(r) });
  }
  return r;
}
