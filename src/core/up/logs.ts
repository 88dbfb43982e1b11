import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { readFile, readdir, stat, open } from "node:fs/promises";
import { join } from "node:path";
import { paint, SGR } from "../../text/style.ts";

/**
 * Per-node log files under <state>/logs/up/<project>/<node>.log. One line per record:
 * `<ISO time>\t<stream>\t<text>`, so `devx logs --since` can filter without guessing. A file is
 * rotated to <node>.log.1 when it passes the size cap (one old generation is kept). Each `devx up`
 * starts its nodes' files afresh, so `devx logs` shows the current (or last) run.
 */
export const LOG_CAP_BYTES = 5 * 1024 * 1024;

export function logDir(stateDir: string, project: string): string {
  return join(stateDir, "logs", "up", project);
}

export class NodeLog {
  private fd: number;
  private size: number;
  /** the last lines, shown when the node crashes */
  readonly tail: string[] = [];

  constructor(
    readonly file: string,
    private readonly cap = LOG_CAP_BYTES,
    private readonly keep = 30,
    /** a new `up` starts its nodes' logs afresh (the previous run's are dropped) */
    fresh = false,
  ) {
    mkdirSync(join(file, ".."), { recursive: true });
    if (fresh) rmSync(`${file}.1`, { force: true });
    this.fd = openSync(file, fresh ? "w" : "a", 0o600);
    this.size = existsSync(file) ? statSync(file).size : 0;
  }

  write(line: string, stream: "stdout" | "stderr" | "devx" = "stdout"): void {
    if (stream !== "devx") {
      this.tail.push(line);
      if (this.tail.length > this.keep) this.tail.shift();
    }
    const rec = `${new Date().toISOString()}\t${stream}\t${line}\n`;
    if (this.size + rec.length > this.cap && this.size > 0) this.rotate();
    this.size += writeSync(this.fd, rec);
  }

  private rotate(): void {
    closeSync(this.fd);
    renameSync(this.file, `${this.file}.1`);
    this.fd = openSync(this.file, "a", 0o600);
    this.size = 0;
  }

  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      /* closed already */
    }
  }
}

/** Splits a byte stream into lines and hands each to `line` (a trailing partial line is flushed at the end). */
export async function pumpLines(stream: ReadableStream<Uint8Array> | AsyncIterable<string | Uint8Array>, line: (l: string) => void): Promise<void> {
  const dec = new TextDecoder();
  let buf = "";
  for await (const chunk of stream as AsyncIterable<string | Uint8Array>) {
    buf += typeof chunk === "string" ? chunk : dec.decode(chunk, { stream: true });
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) {
      line(buf.slice(0, i).replace(/\r$/, ""));
      buf = buf.slice(i + 1);
    }
  }
  buf += dec.decode();
  if (buf) line(buf);
}

export interface LogLine {
  node: string;
  time: string;
  stream: string;
  text: string;
}

export function parseLogLine(node: string, raw: string): LogLine | undefined {
  const a = raw.indexOf("\t");
  const b = raw.indexOf("\t", a + 1);
  if (a < 0 || b < 0) return undefined;
  return { node, time: raw.slice(0, a), stream: raw.slice(a + 1, b), text: raw.slice(b + 1) };
}

export async function logNodes(dir: string): Promise<string[]> {
  const files = await readdir(dir).catch(() => [] as string[]);
  return files.filter((f) => f.endsWith(".log")).map((f) => f.slice(0, -4)).sort();
}

export interface LogFilter {
  sinceMs?: number;
  grep?: RegExp;
}

const keep = (l: LogLine, f: LogFilter) => (f.sinceMs === undefined || Date.parse(l.time) >= f.sinceMs) && (!f.grep || f.grep.test(l.text));

/** Every stored line of these nodes (rotated generation first), merged in time order. */
export async function readLogs(dir: string, nodes: string[], filter: LogFilter = {}): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for (const node of nodes) {
    for (const f of [`${node}.log.1`, `${node}.log`]) {
      const text = await readFile(join(dir, f), "utf8").catch(() => "");
      for (const raw of text.split("\n")) {
        const l = raw ? parseLogLine(node, raw) : undefined;
        if (l && keep(l, filter)) out.push(l);
      }
    }
  }
  return out.sort((x, y) => (x.time < y.time ? -1 : x.time > y.time ? 1 : 0));
}

/**
 * Follows the files: new lines are handed to `emit` as they are appended (polling every 100 ms,
 * which also notices rotation: a file that shrank is read from the start).
 */
export async function followLogs(dir: string, nodes: string[], filter: LogFilter, emit: (l: LogLine) => void, signal: AbortSignal, onFollowing?: () => void): Promise<void> {
  const offsets = new Map<string, number>();
  for (const n of nodes) offsets.set(n, await stat(join(dir, `${n}.log`)).then((s) => s.size, () => 0));
  onFollowing?.();
  const partial = new Map<string, string>();
  while (!signal.aborted) {
    for (const n of nodes) {
      const file = join(dir, `${n}.log`);
      const size = await stat(file).then((s) => s.size, () => 0);
      let off = offsets.get(n) ?? 0;
      if (size < off) off = 0;
      if (size === off) continue;
      const fh = await open(file, "r").catch(() => undefined);
      if (!fh) continue;
      try {
        const buf = Buffer.alloc(size - off);
        await fh.read(buf, 0, buf.length, off);
        offsets.set(n, size);
        const text = (partial.get(n) ?? "") + buf.toString("utf8");
        const lines = text.split("\n");
        partial.set(n, lines.pop() ?? "");
        for (const raw of lines) {
          const l = parseLogLine(n, raw);
          if (l && keep(l, filter)) emit(l);
        }
      } finally {
        await fh.close();
      }
    }
    await new Promise<void>((r) => {
      const t = setTimeout(r, 100);
      signal.addEventListener("abort", () => (clearTimeout(t), r()), { once: true });
    });
  }
}

const PALETTE = [SGR.cyan, SGR.yellow, SGR.magenta, SGR.green, SGR.blue, SGR.brightRed, SGR.brightCyan, SGR.brightYellow];

/** "api    | text", coloured per node (stable colour by position). */
export function formatLogLine(l: LogLine, width: number, color: boolean, index: number): string {
  const head = l.node.padEnd(width);
  const text = l.stream === "devx" ? `[devx] ${l.text}` : l.text;
  return `${paint(color, PALETTE[index % PALETTE.length], head)} | ${text}`;
}
