import { randomBytes } from "node:crypto";
import { constants, createReadStream } from "node:fs";
import { mkdir, open, rm } from "node:fs/promises";
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
    child = exec.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
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
 * What `argv(path)` writes to a file path it opens itself (podman's `volume export --output`: it
 * cannot write to stdout), as a stream: the path is a FIFO that we read, so nothing is staged on
 * disk and the bytes can be hashed as they pass. Not for large writes that must be fast: a pipe
 * takes 64 KiB at a time (checkpoint archives are written to their file by podman instead).
 * A consumer that stops early kills the writer; nothing is left running or blocked when the
 * stream closes.
 */
export function readFromFifo(exec: Exec, opts: { dir: string; argv: (fifo: string) => string[]; fail: (code: number, stderr: string) => Error }): Readable {
  const fifo = join(opts.dir, `export-${process.pid}-${randomBytes(6).toString("hex")}.fifo`);
  async function* gen(): AsyncGenerator<Uint8Array> {
    await mkdir(opts.dir, { recursive: true });
    await execCheck(exec, ["mkfifo", "-m", "600", fifo], {}, "install coreutils (mkfifo)");
    const child = exec.spawn(opts.argv(fifo), { stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    const errText = collect(child.stderr);
    // a writer that fails (or is killed) before opening the FIFO leaves our open blocked: a
    // non-blocking open for writing releases it, and never blocks itself (ENXIO with no reader)
    let opened = false;
    const exited = child.exited.then(async (code) => {
      if (code !== 0 || !opened) await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK).then((fh) => fh.close(), () => {});
      return code;
    });
    const reader = createReadStream(fifo, { highWaterMark: 1 << 16 });
    reader.once("open", () => (opened = true));
    let done = false;
    try {
      for await (const c of reader.iterator({ destroyOnReturn: false })) yield c as Uint8Array;
      const code = await exited;
      if (code !== 0) throw opts.fail(code, await errText);
      done = true;
    } finally {
      if (!done) {
        child.kill("SIGKILL");
        // read to the end whatever is still in the pipe (discarded), so the reader is closed
        try {
          for await (const _ of reader) {
            /* discard */
          }
        } catch {
          /* the writer failed: its exit code says so */
        }
        await exited;
      }
      reader.destroy();
      await rm(fifo, { force: true });
    }
  }
  return Readable.from(gen(), { objectMode: false });
}

/** Pipe `input` into the stdin of `argv` and wait for a clean exit. */
export async function writeToProcess(exec: Exec, argv: string[], input: Readable | AsyncIterable<Uint8Array>, hint = "run with --debug for the full output"): Promise<void> {
  const child = exec.spawn(argv, { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
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
