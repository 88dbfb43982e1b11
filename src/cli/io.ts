/** Terminal IO: stdout is data, stderr is status. Tests pass captured writers. */
export interface Writer {
  write(s: string): void;
  isTTY: boolean;
  columns: number;
}

export interface IO {
  out: Writer;
  err: Writer;
  stdinIsTTY: boolean;
  /** colours allowed on stderr (TTY, no NO_COLOR, no --no-color) */
  color: boolean;
  /** read one line from the terminal; null when stdin is not a TTY or closed */
  readLine(prompt: string): Promise<string | null>;
  /** all of stdin when it is not a terminal (secrets piped in rather than put in argv); null on a TTY */
  readStdin(): Promise<string | null>;
}

export function processIO(noColor: boolean, env: Record<string, string | undefined> = process.env): IO {
  const mk = (s: NodeJS.WriteStream): Writer => ({
    write: (x) => void s.write(x),
    isTTY: !!s.isTTY,
    get columns() {
      return s.columns || 80;
    },
  });
  const err = mk(process.stderr);
  return {
    out: mk(process.stdout),
    err,
    stdinIsTTY: !!process.stdin.isTTY,
    color: err.isTTY && !noColor && !env.NO_COLOR && env.TERM !== "dumb",
    async readLine(prompt) {
      if (!process.stdin.isTTY) return null;
      process.stderr.write(prompt);
      const { createInterface } = await import("node:readline");
      const rl = createInterface({ input: process.stdin, terminal: false });
      return new Promise((resolve) => {
        rl.once("line", (l) => {
          rl.close();
          resolve(l);
        });
        rl.once("close", () => resolve(null));
      });
    },
    async readStdin() {
      if (process.stdin.isTTY) return null;
      return await Bun.stdin.text();
    },
  };
}

/** A captured IO for tests. */
export function memoryIO(opts: { tty?: boolean; answers?: string[]; stdin?: string } = {}): IO & { stdout(): string; stderr(): string } {
  let out = "";
  let err = "";
  const answers = [...(opts.answers ?? [])];
  return {
    out: { write: (s) => void (out += s), isTTY: !!opts.tty, columns: 100 },
    err: { write: (s) => void (err += s), isTTY: !!opts.tty, columns: 100 },
    stdinIsTTY: !!opts.tty,
    color: false,
    async readLine(prompt) {
      err += prompt;
      return opts.tty ? (answers.shift() ?? null) : null;
    },
    async readStdin() {
      return opts.tty ? null : (opts.stdin ?? "");
    },
    stdout: () => out,
    stderr: () => err,
  };
}
