import { randomBytes } from "node:crypto";
import { closeSync, constants, createReadStream, openSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { ProviderError } from "../../src/errors.ts";
import { execCheck, type Exec, type Spawned } from "../../src/platform/exec.ts";

/**
 * Byte streams to and from runtime CLIs (`volume export`, `volume import -`). A child's exit code
 * is part of the stream: a non-zero exit becomes a stream error carrying the tail of stderr, so a
 * half-written export is never mistaken for a complete one.
 */

async function collect(stream: ReadableStream<Uint8Array>): Promise<string> {
  const dec = new TextDecoder();
  let text = "";
  for await (const c of stream as unknown as AsyncIterable<Uint8Array>) {
    text += dec.decode(c, { stream: true });
    // stderr is only for messages: keep the tail bounded
    if (text.length > 16_384) text = text.slice(-8192);
  }
  return text + dec.decode();
}

function failure(argv: string[], code: number, stderr: string, hint: string): ProviderError {
  const tail = stderr.trim().split("\n").slice(-3).join(" | ");
  return new ProviderError(`\`${argv.slice(0, 3).join(" ")}\` failed (exit ${code})${tail ? `: ${tail}` : ""}`, hint);
}

/** The stdout of `argv` as a Node Readable that errors when the child exits non-zero. */
export function readFromProcess(exec: Exec, argv: string[], hint = "run with --debug for the full output"): Readable {
  let child: Spawned | undefined;
  let finished = false;
  async function* gen(): AsyncGenerator<Uint8Array> {
    child = exec.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", dieWithParent: true });
    const errText = collect(child.stderr);
    try {
      for await (const c of child.stdout as unknown as AsyncIterable<Uint8Array>) yield c;
      const code = await child.exited;
      if (code !== 0) throw failure(argv, code, await errText, hint);
      finished = true;
    } finally {
      // the consumer stopped early (error or destroy): do not leave the exporter running
      if (!finished) child.kill("SIGKILL");
    }
  }
  return Readable.from(gen(), { objectMode: false, highWaterMark: 1 << 16 });
}

/**
 * What `argv` writes to its stdout when that stdout must be a real pipe: podman's `volume export`
 * reopens /dev/stdout by path, which fails on the socket a spawned child's stdout is. The pipe is a
 * FIFO whose both ends are opened here (read-write first, so no open ever blocks) and which is
 * unlinked at once: a devx killed at any moment leaves no FIFO on disk and no writer blocked in
 * open(); the writer gets EPIPE when our end goes, and SIGKILL when devx dies (dieWithParent).
 * A consumer that stops early kills the writer.
 */
export function readFromFifo(exec: Exec, opts: { dir: string; argv: string[]; fail: (code: number, stderr: string) => Error }): Readable {
  const fifo = join(opts.dir, `export-${process.pid}-${randomBytes(6).toString("hex")}.fifo`);
  async function* gen(): AsyncGenerator<Uint8Array> {
    await mkdir(opts.dir, { recursive: true });
    await execCheck(exec, ["mkfifo", "-m", "600", fifo], {}, "install coreutils (mkfifo)");
    let writeEnd: number | undefined;
    let readEnd: number;
    try {
      writeEnd = openSync(fifo, constants.O_RDWR);
      readEnd = openSync(fifo, constants.O_RDONLY);
    } catch (e) {
      if (writeEnd !== undefined) closeSync(writeEnd);
      throw e;
    } finally {
      await rm(fifo, { force: true });
    }
    let child: Spawned;
    try {
      child = exec.spawn(opts.argv, { stdin: "ignore", stdout: writeEnd, stderr: "pipe", dieWithParent: true });
    } catch (e) {
      closeSync(readEnd);
      throw e;
    } finally {
      // only the child holds the write end now: its exit is our end of file
      closeSync(writeEnd);
    }
    const errText = collect(child.stderr);
    const reader = createReadStream("", { fd: readEnd, highWaterMark: 1 << 16 });
    let done = false;
    try {
      for await (const c of reader) yield c as Uint8Array;
      const code = await child.exited;
      if (code !== 0) throw opts.fail(code, await errText);
      done = true;
    } finally {
      if (!done) child.kill("SIGKILL");
      reader.destroy();
      if (!done) await child.exited;
    }
  }
  return Readable.from(gen(), { objectMode: false });
}

/** Pipe `input` into the stdin of `argv` and wait for a clean exit. */
export async function writeToProcess(exec: Exec, argv: string[], input: Readable | AsyncIterable<Uint8Array>, hint = "run with --debug for the full output"): Promise<void> {
  const child = exec.spawn(argv, { stdin: "pipe", stdout: "pipe", stderr: "pipe", dieWithParent: true });
  const sink = child.stdin!;
  const errText = collect(child.stderr);
  const outText = collect(child.stdout);
  let exitedEarly = false;
  const exited = child.exited.then((code) => {
    exitedEarly = true;
    return code;
  });
  try {
    for await (const chunk of input as AsyncIterable<Uint8Array | string>) {
      if (exitedEarly) break;
      sink.write(typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk);
      // flush per chunk keeps memory bounded to one chunk whatever the input size
      await sink.flush();
    }
    await sink.end();
  } catch (e) {
    child.kill("SIGKILL");
    await exited;
    throw e;
  }
  const code = await exited;
  await outText;
  if (code !== 0) throw failure(argv, code, await errText, hint);
}
