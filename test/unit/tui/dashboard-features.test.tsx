import { KEY, fakeSource, renderApp, type Harness } from "./support.tsx";
import { afterEach, describe, expect, test } from "bun:test";
import type { CommandRunner, PaneSource, Row } from "../../../tui/types.ts";

/**
 * The dashboard as k9s and lazydocker users expect it (issue 14, 17–19): a streaming, searchable
 * log view per row, confirmation before destructive keys, sorting, and progress bars for long work.
 */
let h: Harness | undefined;
afterEach(() => h?.unmount());
const lastLine = (f: string) => f.split("\n").at(-1) ?? "";

/** A pane whose rows stream logs the test feeds, and whose stream's abort the test can see. */
function streaming() {
  const feeds = new Map<string, (line: string) => void>();
  const aborted: string[] = [];
  const rows: Row[] = [
    { id: "api", cells: { name: "api", state: "healthy" } },
    { id: "worker", cells: { name: "worker", state: "healthy" } },
  ];
  const src: PaneSource = {
    ...fakeSource("services", "Services", () => ({ kind: "rows", columns: [{ key: "name", title: "NAME" }, { key: "state", title: "STATE" }], rows })),
    async logs(row, onLine, signal) {
      for (let i = 1; i <= 30; i++) onLine(`${row.id} line ${i}${i % 10 === 0 ? " ERROR disk full" : ""}`);
      feeds.set(row.id, onLine);
      await new Promise<void>((r) => signal.addEventListener("abort", () => r(), { once: true }));
      aborted.push(row.id);
    },
  };
  return { src, feeds, aborted };
}

describe("log view", () => {
  test("⏎ streams the row's output and follows it; space pauses (new lines wait); Esc leaves and stops the stream", async () => {
    const s = streaming();
    h = await renderApp({ sources: [s.src], initialPane: "services" });
    await h.until((f) => f.includes("worker"));
    await h.press(KEY.right, "j", KEY.enter);
    let f = await h.until((x) => x.includes("Logs › worker") && x.includes("worker line 30"));
    expect(f).toContain("[following]");
    expect(f).not.toContain("worker line 1 "); // the view shows the end
    s.feeds.get("worker")!("worker line 31 fresh");
    f = await h.until((x) => x.includes("worker line 31 fresh"));
    await h.press(" ");
    f = await h.until((x) => x.includes("[paused]"));
    s.feeds.get("worker")!("worker line 32 while paused");
    f = await h.until((x) => x.includes("paused +1 new"));
    expect(f).not.toContain("worker line 32");
    await h.press(" ");
    await h.until((x) => x.includes("worker line 32 while paused") && x.includes("[following]"));
    expect(lastLine(f)).toContain("space pause");
    await h.press(KEY.esc);
    await h.until((x) => x.includes("NAME") && !x.includes("Logs ›"));
    await h.until(() => s.aborted.includes("worker"));
  });

  test("/ searches: matches are counted, n jumps between them (scrolling stops following), Esc clears", async () => {
    const s = streaming();
    h = await renderApp({ sources: [s.src], initialPane: "services", size: { columns: 100, rows: 12 } });
    await h.until((f) => f.includes("api"));
    await h.press(KEY.right, KEY.enter);
    await h.until((x) => x.includes("api line 30"));
    await h.press("/", "ERROR", KEY.enter);
    let f = await h.until((x) => x.includes("/ERROR"));
    expect(f).toMatch(/\/ERROR \d\/3/);
    await h.press("g");
    f = await h.until((x) => x.includes("scrolled") && x.includes("api line 1 "));
    await h.press("n");
    f = await h.until((x) => x.includes("/ERROR 1/3") && x.split("\n")[3]!.includes("api line 10 ERROR"));
    await h.press("n");
    f = await h.until((x) => x.includes("/ERROR 2/3"));
    await h.press(KEY.esc);
    f = await h.until((x) => !x.includes("/ERROR"));
    expect(f).toContain("Logs › api");
  });

  test("one Esc closes the log view only: the filter it was opened from stays", async () => {
    const s = streaming();
    h = await renderApp({ sources: [s.src], initialPane: "services" });
    await h.until((f) => f.includes("worker"));
    await h.press(KEY.right, "/", "work", KEY.enter, KEY.enter);
    await h.until((x) => x.includes("Logs › worker"));
    await h.press(KEY.esc);
    const f = await h.until((x) => !x.includes("Logs ›"));
    expect(f).toContain("filter: work");
    expect(f).not.toMatch(/› api|  api /);
  });

  test("w wraps long lines instead of cutting them", async () => {
    const long = `${"x".repeat(90)}END`;
    const src: PaneSource = {
      ...fakeSource("c", "Containers", () => ({ kind: "rows", columns: [{ key: "name", title: "NAME" }], rows: [{ id: "c1", cells: { name: "web" } }] })),
      logs: async (_row, onLine, signal) => {
        onLine(long);
        await new Promise<void>((r) => signal.addEventListener("abort", () => r(), { once: true }));
      },
    };
    h = await renderApp({ sources: [src], initialPane: "c" });
    await h.press(KEY.right, KEY.enter);
    let f = await h.until((x) => x.includes("xxxxxxxx"));
    expect(f).not.toContain("END");
    await h.press("w");
    f = await h.until((x) => x.includes("END"));
    expect(f).toContain("[following  wrap]");
  });
});

describe("destructive keys ask first", () => {
  test("x on a node asks; n leaves it running, y stops it", async () => {
    const ran: string[] = [];
    const src: PaneSource = {
      ...fakeSource("services", "Services", () => ({ kind: "rows", columns: [{ key: "name", title: "NAME" }], rows: [{ id: "api", cells: { name: "api" } }] })),
      actions: [{ key: "x", title: "stop", confirm: (row) => `Stop ${row?.cells.name}?`, task: (row) => row && { label: `stop ${row.id}`, run: async (onLine) => void (ran.push(row.id), onLine("stopped")) } }],
    };
    h = await renderApp({ sources: [src], initialPane: "services" });
    await h.until((f) => f.includes("api"));
    await h.press(KEY.right, "x");
    await h.until((f) => lastLine(f).includes("Stop api? y yes"));
    await h.press("n");
    await h.until((f) => lastLine(f).includes("q quit"));
    expect(ran).toEqual([]);
    await h.press("x", "y");
    await h.until((f) => f.includes("stopped"));
    expect(ran).toEqual(["api"]);
  });
});

describe("sorting", () => {
  const rows: Row[] = [
    { id: "a", cells: { name: "beta", size: "2.0 KiB" }, sort: { size: 2048 } },
    { id: "b", cells: { name: "alpha", size: "1.0 MiB" }, sort: { size: 1048576 } },
    { id: "c", cells: { name: "gamma", size: "512 B" }, sort: { size: 512 } },
  ];
  const src = () => fakeSource("s", "Snapshots", () => ({ kind: "rows", columns: [{ key: "name", title: "NAME" }, { key: "size", title: "SIZE" }], rows }));
  const order = (f: string) => f.split("\n").flatMap((l) => /[›│] +(alpha|beta|gamma) /.exec(l)?.[1] ?? []);

  test("o sorts by the next column (sizes by their number, not their text), O reverses, past the last the source's order returns", async () => {
    h = await renderApp({ sources: [src()], initialPane: "s" });
    await h.until((f) => f.includes("gamma"));
    expect(order(h.frame())).toEqual(["beta", "alpha", "gamma"]);
    await h.press(KEY.right, "o");
    let f = await h.until((x) => x.includes("NAME ▲"));
    expect(order(f)).toEqual(["alpha", "beta", "gamma"]);
    await h.press("o");
    f = await h.until((x) => x.includes("SIZE ▲"));
    expect(order(f)).toEqual(["gamma", "beta", "alpha"]);
    await h.press("O");
    f = await h.until((x) => x.includes("SIZE ▼"));
    expect(order(f)).toEqual(["alpha", "beta", "gamma"]);
    await h.press("o");
    f = await h.until((x) => !x.includes("▲") && !x.includes("▼"));
    expect(order(f)).toEqual(["beta", "alpha", "gamma"]);
  });
});

describe("progress bars", () => {
  test("a child's JSON progress events are drawn as a bar; its steps and warnings as lines", async () => {
    let finish!: () => void;
    const run: CommandRunner = async (_args, onLine) => {
      const ev = (e: object) => onLine(JSON.stringify({ ts: "2026-01-01T00:00:00Z", ...e }), "stderr");
      ev({ type: "step", id: "cp", title: "checkpoint app", status: "done", detail: "12.0 MiB" });
      ev({ type: "warning", message: "criu is old", hint: "upgrade it" });
      ev({ type: "progress", id: "upload", title: "upload", bytes: 14 * 1024 * 1024, total: 28 * 1024 * 1024 });
      await new Promise<void>((r) => (finish = r));
      return 0;
    };
    h = await renderApp({ run });
    await h.press(":", "state share", KEY.enter);
    const f = await h.until((x) => x.includes("upload ["));
    expect(f).toContain("✓ checkpoint app — 12.0 MiB");
    expect(f).toContain("warning: criu is old");
    expect(f).toContain("  hint: upgrade it");
    expect(f).toMatch(/upload \[#+\.+\]  50%  14\.0 MiB\/28\.0 MiB/);
    expect(f).not.toContain('"type"');
    finish();
    await h.until((x) => x.includes("[exit 0]"));
  });
});
