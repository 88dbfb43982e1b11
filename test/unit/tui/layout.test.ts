import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as v from "valibot";
import { headerText, layoutColumns, sortRows } from "../../../tui/layout.ts";
import { firstShown, highlight, matchingLines, screenLines } from "../../../tui/log-view.ts";
import { ProcessGroupSampler } from "../../../src/core/inventory/usage.ts";
import { createDeps } from "../../../src/cli/deps.ts";
import { globalOptions } from "../../../src/cli/define.ts";
import { memoryIO } from "../../../src/cli/io.ts";
import type { Column, Row } from "../../../tui/types.ts";

const services: Column[] = [
  { key: "name", title: "NAME", priority: 4 },
  { key: "runtime", title: "RUNTIME", priority: 1 },
  { key: "state", title: "STATE", priority: 3 },
  { key: "health", title: "HEALTH", priority: 2 },
  { key: "cpu", title: "CPU", priority: 2 },
  { key: "mem", title: "MEM", priority: 2 },
  { key: "port", title: "PORT", priority: 1 },
  { key: "restarts", title: "RESTARTS" },
  { key: "uptime", title: "UPTIME" },
  { key: "deps", title: "DEPENDS ON" },
];
const rows: Row[] = [{ id: "a", cells: { name: "a-service-with-a-very-long-name-indeed", runtime: "host", state: "healthy", health: "healthy", cpu: "1.5%", mem: "12.0 MiB", port: "7300", restarts: "0", uptime: "3m", deps: "worker, postgres" } }];

describe("columns adapt to the width (the table area at 160, 80 and 50 columns)", () => {
  for (const width of [160 - 36, 80 - 30, 50 - 6]) {
    test(`${width} cells: whole titles, nothing wider than the room, NAME always there`, () => {
      const { columns, widths } = layoutColumns(services, rows, width);
      expect(columns[0]!.key).toBe("name");
      columns.forEach((c, i) => expect(widths[i]!).toBeGreaterThanOrEqual(c.title.length));
      expect(widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1)).toBeLessThanOrEqual(width);
    });
  }

  test("the lowest priority goes first: at 44 cells NAME, STATE and the usage stay, RESTARTS and DEPENDS ON go", () => {
    const keys = layoutColumns(services, rows, 44).columns.map((c) => c.key);
    expect(keys).toContain("state");
    expect(keys).not.toContain("restarts");
    expect(keys).not.toContain("deps");
    expect(layoutColumns(services, rows, 200).columns).toHaveLength(services.length);
  });
});

describe("the top bar", () => {
  const parts = { version: "0.1.0", project: "quickstart", provider: "podman", vm: "devx running" };
  test("exactly the width, separators spaced, fields dropped (VM first) rather than squeezed", () => {
    for (const w of [160, 80, 50]) {
      const line = headerText(parts, w);
      expect(line).toHaveLength(w);
      expect(line).not.toMatch(/\S│|│\S/);
    }
    expect(headerText(parts, 160)).toContain("VM: devx running");
    expect(headerText(parts, 80).trim()).toBe("devx 0.1.0 │ project: quickstart │ provider: podman │ VM: devx running");
    expect(headerText({ ...parts, project: "shop" }, 50).trim()).toBe("devx 0.1.0 │ project: shop │ provider: podman");
    expect(headerText(parts, 50).trim()).toBe("devx 0.1.0 │ project: quickstart");
    expect(headerText({ ...parts, error: "devx.yaml:3:1 bad" }, 80).trim()).toBe("devx 0.1.0 │ project: quickstart │ devx.yaml: devx.yaml:3:1 bad");
  });
});

describe("log view lines", () => {
  test("cut or wrapped at the width; control characters dropped", () => {
    expect(screenLines(["abcdef", "\x1b[31mred\x1b[0m"], 4, false).map((s) => s.text)).toEqual(["abc…", "red"]);
    expect(screenLines(["abcdef"], 4, true)).toEqual([{ line: 0, text: "abcd" }, { line: 0, text: "ef" }]);
  });

  test("matches, highlight parts, and the window (following ends at the last line)", () => {
    expect(matchingLines(["ok", "Error one", "fine", "ERROR two"], "error")).toEqual([1, 3]);
    expect(highlight("an error and an ERROR", "error")).toEqual([{ text: "an ", hit: false }, { text: "error", hit: true }, { text: " and an ", hit: false }, { text: "ERROR", hit: true }]);
    const screen = screenLines(Array.from({ length: 10 }, (_, i) => `l${i}`), 10, false);
    expect(firstShown(screen, 4, true, 0)).toBe(6);
    expect(firstShown(screen, 4, false, 2)).toBe(2);
    expect(firstShown(screen, 4, false, 9)).toBe(6);
  });
});

test("sorting uses the source's numbers where it gives them", () => {
  const r: Row[] = [
    { id: "1", cells: { size: "2.0 KiB" }, sort: { size: 2048 } },
    { id: "2", cells: { size: "1.0 MiB" }, sort: { size: 1 << 20 } },
    { id: "3", cells: { size: "512 B" }, sort: { size: 512 } },
  ];
  expect(sortRows(r, { key: "size", desc: false }).map((x) => x.id)).toEqual(["3", "1", "2"]);
  expect(sortRows(r, { key: "size", desc: true }).map((x) => x.id)).toEqual(["2", "1", "3"]);
});

describe("CPU and memory of host nodes (their process groups, from /proc)", () => {
  test("memory from the first sample, CPU from the ticks between two", async () => {
    const proc = mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "proc-"));
    // /proc/<pid>/stat: pid (comm) state ppid pgrp … utime(14) stime(15) … rss(24)
    const stat = (pid: number, pgrp: number, ticks: number, pages: number) => {
      mkdirSync(join(proc, String(pid)), { recursive: true });
      const f = Array.from({ length: 50 }, () => "0");
      f[0] = "S";
      f[2] = String(pgrp);
      f[11] = String(ticks);
      f[12] = "0";
      f[21] = String(pages);
      writeFileSync(join(proc, String(pid), "stat"), `${pid} (a (weird) name) ${f.join(" ")}`);
    };
    let now = 0;
    const s = new ProcessGroupSampler(proc, () => now);
    stat(100, 100, 50, 1000);
    stat(101, 100, 10, 24);
    stat(200, 200, 5, 10);
    const first = await s.sample([100]);
    expect(first.get(100)).toEqual({ memBytes: 1024 * 4096, cpuPercent: undefined });
    now = 2000;
    stat(100, 100, 150, 1000); // +100 ticks = 1 s of CPU in 2 s
    const second = await s.sample([100]);
    expect(second.get(100)!.cpuPercent).toBeCloseTo(50, 5);
  });

  test("the real /proc: this test's own process group has memory", async () => {
    const pgrp = Number((await Bun.file("/proc/self/stat").text()).split(") ")[1]!.split(" ")[2]);
    const u = (await new ProcessGroupSampler().sample([pgrp])).get(pgrp);
    expect(u?.memBytes).toBeGreaterThan(1 << 20);
  });
});

test("a child of the dashboard reports its events as JSON lines on stderr; any other process as text", () => {
  const run = (env: Record<string, string>) => {
    const io = memoryIO();
    createDeps(v.parse(globalOptions, {}), { io, env }).emit({ type: "step", id: "x", title: "checkpoint", status: "done" });
    return io.stderr();
  };
  expect(JSON.parse(run({ DEVX_EVENTS_JSONL_FOR: String(process.ppid) }))).toMatchObject({ type: "step", title: "checkpoint", status: "done" });
  // a grandchild (a detached supervisor) sees its parent's pid, not the dashboard's: text
  expect(run({ DEVX_EVENTS_JSONL_FOR: "1" })).toBe("✓ checkpoint\n");
  expect(run({})).toBe("✓ checkpoint\n");
});
