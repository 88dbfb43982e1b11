import { afterAll, expect, test } from "bun:test";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NodeLog, followLogs, formatLogLine, logNodes, readLogs, type LogLine } from "../../../src/core/up/logs.ts";

const dir = mkdtempSync(join(tmpdir(), "devx-logs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("rotation at the size cap keeps one old generation; reading merges both in order; a fresh run starts empty", async () => {
  const log = new NodeLog(join(dir, "api.log"), 200, 3);
  for (let i = 0; i < 12; i++) log.write(`line ${i}`, i % 2 ? "stderr" : "stdout");
  log.close();
  expect(statSync(join(dir, "api.log")).size).toBeLessThanOrEqual(200);
  expect(existsSync(join(dir, "api.log.1"))).toBe(true);
  expect(log.tail).toEqual(["line 9", "line 10", "line 11"]);
  const lines = await readLogs(dir, ["api"]);
  const texts = lines.map((l) => l.text);
  // older lines beyond two generations are gone; what is kept is contiguous and in order
  expect(texts.at(-1)).toBe("line 11");
  expect(texts).toEqual(texts.slice().sort((a, b) => Number(a.split(" ")[1]) - Number(b.split(" ")[1])));
  expect(lines.find((l) => l.text === "line 11")!.stream).toBe("stderr");

  const fresh = new NodeLog(join(dir, "api.log"), 200, 3, true);
  fresh.write("new run");
  fresh.close();
  expect((await readLogs(dir, ["api"])).map((l) => l.text)).toEqual(["new run"]);
});

test("--since and --grep filter; nodes are listed from the files; lines are prefixed per node", async () => {
  const old = new Date(Date.now() - 3_600_000).toISOString();
  appendFileSync(join(dir, "worker.log"), `${old}\tstdout\tERROR old one\n`);
  const w = new NodeLog(join(dir, "worker.log"));
  w.write("ERROR new one");
  w.write("fine");
  w.close();
  expect(await logNodes(dir)).toEqual(["api", "worker"]);
  const recent = await readLogs(dir, ["worker"], { sinceMs: Date.now() - 60_000, grep: /ERROR/ });
  expect(recent.map((l) => l.text)).toEqual(["ERROR new one"]);
  expect(formatLogLine(recent[0]!, 8, false, 0)).toBe("worker   | ERROR new one");
  expect(formatLogLine(recent[0]!, 6, true, 1)).toBe("\x1b[33mworker\x1b[0m | ERROR new one");
});

test("follow prints lines as they are appended and stops on abort", async () => {
  const got: LogLine[] = [];
  const ctl = new AbortController();
  const log = new NodeLog(join(dir, "tail.log"));
  log.write("before follow");
  let seen!: () => void;
  const twoSeen = new Promise<void>((r) => (seen = r));
  let following!: Promise<void>;
  await new Promise<void>((ready) => (following = followLogs(dir, ["tail"], { grep: /keep/ }, (l) => (got.push(l), got.length === 2 && seen()), ctl.signal, ready)));
  log.write("keep 1");
  log.write("drop");
  log.write("keep 2");
  await twoSeen;
  ctl.abort();
  await following;
  log.close();
  expect(got.map((l) => l.text)).toEqual(["keep 1", "keep 2"]);
  expect(readFileSync(join(dir, "tail.log"), "utf8")).toContain("\tstdout\tbefore follow\n");
});
