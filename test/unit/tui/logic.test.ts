import { describe, expect, test } from "bun:test";
import { complete, suggest, tokenize } from "../../../tui/palette.ts";
import { columnWidths, filterRows, fit, windowStart } from "../../../tui/layout.ts";
import { initialState, reduce, type UIState } from "../../../tui/state/reducer.ts";
import { LogStore } from "../../../tui/sources/log-store.ts";

const commands = [
  { path: ["config", "validate"], summary: "" },
  { path: ["config", "show"], summary: "" },
  { path: ["config", "schema"], summary: "" },
  { path: ["doctor"], summary: "" },
  { path: ["db", "spawn"], summary: "" },
];

describe("palette line", () => {
  test("splits like a shell without expanding anything", () => {
    expect(tokenize(`state push --message "two words" 'it''s' a\\ b $HOME`)).toEqual(["state", "push", "--message", "two words", "its", "a b", "$HOME"]);
    expect(tokenize("devx doctor --json")).toEqual(["doctor", "--json"]);
    expect(tokenize(`x ""`)).toEqual(["x", ""]);
    expect(tokenize("   ")).toEqual([]);
  });

  test("suggests by path prefix and completes to the longest shared prefix", () => {
    expect(suggest("con", commands).map((c) => c.path.join(" "))).toEqual(["config validate", "config show", "config schema"]);
    expect(suggest("config s", commands).map((c) => c.path.join(" "))).toEqual(["config show", "config schema"]);
    expect(suggest("config show ", commands)).toEqual([]);
    expect(complete("con", commands)).toBe("config ");
    expect(complete("config s", commands)).toBe("config s"); // show/schema share only "s"
    expect(complete("config sh", commands)).toBe("config show ");
    expect(complete("d", commands)).toBe("d"); // doctor and db share nothing more
    expect(complete("zzz", commands)).toBe("zzz");
  });
});

describe("layout", () => {
  test("fit cuts with … and pads to the width", () => {
    expect(fit("postgres", 5)).toBe("post…");
    expect(fit("pg", 5)).toBe("pg   ");
    expect(fit("a\nb", 3)).toBe("a b");
  });

  test("columns keep their natural width when they fit, the widest gives way first otherwise", () => {
    const cols = [
      { key: "a", title: "A" },
      { key: "b", title: "B" },
    ];
    const rows = [{ id: "1", cells: { a: "x".repeat(10), b: "y".repeat(40) } }];
    expect(columnWidths(cols, rows, 60)).toEqual([10, 40]);
    const w = columnWidths(cols, rows, 32);
    expect(w[0]).toBe(10);
    expect(w[0]! + w[1]! + 2).toBe(32);
  });

  test("the window scrolls so the cursor stays visible", () => {
    expect(windowStart(0, 5, 3)).toBe(0);
    expect(windowStart(4, 5, 20)).toBe(0);
    expect(windowStart(5, 5, 20)).toBe(1);
    expect(windowStart(19, 5, 20)).toBe(15);
  });

  test("filter matches any cell, case-insensitively", () => {
    const rows = [
      { id: "1", cells: { name: "Shop-DB", kind: "database" } },
      { id: "2", cells: { name: "api", kind: "service" } },
    ];
    expect(filterRows(rows, "shop").map((r) => r.id)).toEqual(["1"]);
    expect(filterRows(rows, "SERV").map((r) => r.id)).toEqual(["2"]);
    expect(filterRows(rows, " ")).toHaveLength(2);
  });
});

describe("UI state", () => {
  const run = (s: UIState, ...intents: Parameters<typeof reduce>[1][]) => intents.reduce(reduce, s);

  test("Esc peels one layer at a time: output, detail, filter, then table focus", () => {
    let s = run(initialState(3), { type: "select-pane", index: 1 }, { type: "open", overlay: "filter" }, { type: "type", text: "x", paneId: "p" }, { type: "submit" });
    s = run(s, { type: "drill", paneId: "p", rowId: "r1" }, { type: "open", overlay: "palette" }, { type: "type", text: "doctor", paneId: "p" }, { type: "submit" });
    expect(s.output?.line).toBe("doctor");
    expect(s.detail).toBeUndefined(); // running a command leaves the detail view
    s = run(s, { type: "drill", paneId: "p", rowId: "r1" });
    s = reduce(s, { type: "back", paneId: "p" });
    expect(s.output).toBeUndefined();
    expect(s.detail).toEqual({ pane: "p", row: "r1" });
    s = reduce(s, { type: "back", paneId: "p" });
    expect(s.detail).toBeUndefined();
    expect(s.filter.p).toBe("x");
    s = reduce(s, { type: "back", paneId: "p" });
    expect(s.filter.p).toBe("");
    expect(s.focus).toBe("table");
    s = reduce(s, { type: "back", paneId: "p" });
    expect(s.focus).toBe("sidebar");
  });

  test("cursor and pane moves are clamped; history browses previous lines", () => {
    let s = run(initialState(3), { type: "move", delta: 10, paneId: "p", rows: 0 });
    expect(s.pane).toBe(2);
    s = run(s, { type: "focus", focus: "table" }, { type: "move", delta: 10, paneId: "p", rows: 4 });
    expect(s.cursor.p).toBe(3);
    s = run(s, { type: "move", delta: -Infinity, paneId: "p", rows: 4 });
    expect(s.cursor.p).toBe(0);
    for (const l of ["one", "two", "two"]) s = run(s, { type: "open", overlay: "palette" }, { type: "complete", text: l }, { type: "submit" });
    expect(s.history).toEqual(["one", "two"]);
    s = run(s, { type: "open", overlay: "palette" }, { type: "history", delta: -1 });
    expect(s.input).toBe("two");
    s = run(s, { type: "history", delta: -1 }, { type: "history", delta: -1 });
    expect(s.input).toBe("one");
    s = run(s, { type: "history", delta: 5 });
    expect(s.input).toBe("");
  });
});

describe("log store", () => {
  test("maps events to lines, drops progress, keeps the newest `limit` entries", () => {
    const store = new LogStore(3, () => 0);
    let changes = 0;
    store.subscribe(() => changes++);
    store.emit({ type: "progress", id: "up", title: "upload", bytes: 1 });
    store.emit({ type: "step", id: "push", title: "upload", status: "failed", detail: "403" });
    store.emit({ type: "log", source: "api", line: "listening", stream: "stderr" });
    store.emit({ type: "info", message: "a" });
    store.emit({ type: "state", node: "db", state: "healthy" });
    expect(changes).toBe(4);
    expect(store.list().map((e) => [e.source, e.line, e.level])).toEqual([
      ["api", "listening", "warn"],
      ["info", "a", "info"],
      ["db", "healthy", "info"],
    ]);
  });
});
