import { KEY, fakeSource, fakeSources, renderApp, type Harness } from "./support.tsx";
import { afterEach, describe, expect, test } from "bun:test";
import type { CommandRunner } from "../../../tui/types.ts";

let h: Harness | undefined;
afterEach(() => h?.unmount());

/** the sidebar line carrying the › marker */
const selectedPane = (f: string) => f.split("\n").find((l) => /^│ › \d/.test(l))?.match(/› \d (.+?)\s*│/)?.[1];
/** the table row carrying the › marker */
const selectedRow = (f: string) => f.split("\n").find((l) => /││ › /.test(l))?.match(/││ › (\S+)/)?.[1];

describe("moving", () => {
  test("j/k and arrows move between panes in the sidebar; the main area follows", async () => {
    h = await renderApp();
    await h.until((f) => f.includes("VM management"));
    await h.press("j");
    expect(selectedPane(await h.until((f) => f.includes("shop-postgres")))).toBe("Containers & databases");
    await h.press(KEY.down, KEY.down);
    expect(selectedPane(await h.until((f) => f.includes("cannot reach the cluster")))).toBe("Bridge");
    await h.press("k", KEY.up, KEY.up, KEY.up); // stops at the first pane
    expect(selectedPane(await h.until((f) => f.includes("VM management")))).toBe("VMs");
  });

  test("a number jumps to that pane and focuses its table", async () => {
    h = await renderApp();
    await h.press("3");
    const f = await h.until((x) => x.includes("web.example.dev"));
    expect(selectedPane(f)).toBe("Tunnels");
    expect(selectedRow(f)).toBe("web");
  });

  test("→ focuses the table; j/k/G/g move the row cursor; ← goes back to the sidebar", async () => {
    h = await renderApp({ initialPane: "containers" });
    await h.until((f) => f.includes("shop-api"));
    await h.press(KEY.right, "j");
    expect(selectedRow(h.frame())).toBe("shop-redis");
    await h.press("G");
    expect(selectedRow(h.frame())).toBe("shop-api");
    await h.press("j"); // stays on the last row
    expect(selectedRow(h.frame())).toBe("shop-api");
    await h.press("g");
    expect(selectedRow(h.frame())).toBe("shop-postgres");
    await h.press(KEY.left, "j"); // sidebar again: j now changes the pane
    expect(selectedPane(await h.until((f) => f.includes("web.example.dev")))).toBe("Tunnels");
  });
});

describe("drilling in", () => {
  test("Enter on a pane focuses its table, Enter on a row shows every field and the source's detail; Esc comes back", async () => {
    h = await renderApp({ initialPane: "containers" });
    await h.until((f) => f.includes("shop-api"));
    await h.press(KEY.enter, "j", KEY.enter);
    const d = await h.until((f) => f.includes("shop-redis ready"), "the detail lines");
    expect(d).toContain("Containers & databases › shop-redis");
    expect(d).toMatch(/PORTS\s+127\.0\.0\.1:6379->6379\/tcp/);
    expect(d).toContain("last log lines:");
    await h.press(KEY.esc);
    const back = await h.until((f) => f.includes("NAME") && !f.includes("last log lines"));
    expect(selectedRow(back)).toBe("shop-redis");
  });
});

describe("filter", () => {
  test("/ filters the pane's rows live, Enter keeps the filter, Esc clears it", async () => {
    h = await renderApp({ initialPane: "containers" });
    await h.until((f) => f.includes("shop-api"));
    await h.press("/", "d", "a", "t");
    let f = await h.until((x) => x.includes("(2/3)"));
    expect(f).toContain("filter: dat");
    expect(f).not.toContain("shop-api");
    expect(f.split("\n").at(-1)).toContain("/dat");
    await h.press(KEY.backspace, KEY.backspace, KEY.backspace, "r", "e", "d", "i", "s", KEY.enter);
    f = await h.until((x) => x.includes("(1/3)"));
    expect(selectedRow(f)).toBe("shop-redis");
    expect(f.split("\n").at(-1)).toContain("q quit"); // the filter is kept, typing is over
    await h.press("q"); // so q quits again
    expect(h.quits).toBe(1);
    await h.press(KEY.esc);
    f = await h.until((x) => x.includes("(3)"));
    expect(f).not.toContain("filter:");
  });

  test("Esc while typing drops the filter; q typed into the filter is text, not quit", async () => {
    h = await renderApp({ initialPane: "containers" });
    await h.until((f) => f.includes("shop-api"));
    await h.press("/", "q");
    expect(await h.until((x) => x.includes("(0/3)"))).toContain('no rows match "q"');
    expect(h.quits).toBe(0);
    await h.press(KEY.esc);
    expect(await h.until((x) => x.includes("(3)"))).toContain("shop-api");
  });
});

describe("command palette", () => {
  test(": suggests commands from the registry, Tab completes, Enter runs it and shows its output; the run is logged", async () => {
    const { logsSource } = await import("../../../tui/sources/index.ts");
    const s = fakeSources();
    let logs: Harness["logs"] | undefined;
    const sources = [s.vms, s.containers, fakeSource("logs", "Logs", () => logsSource(logs!).load(new AbortController().signal))];
    h = await renderApp({ sources });
    logs = h.logs;
    await h.press(":");
    let f = await h.until((x) => x.includes("Run a devx command"));
    expect(f).toMatch(/config validate\s+check devx\.yaml/);
    await h.press("d", "o");
    f = await h.until((x) => x.includes("devx do"));
    expect(f).toMatch(/doctor\s+check what is installed/);
    expect(f).not.toContain("config validate");
    await h.press(KEY.tab);
    await h.until((x) => x.includes("devx doctor "));
    await h.press("-", "-", "j", "s", "o", "n", KEY.enter);
    f = await h.until((x) => x.includes("ran doctor --json"));
    expect(h.ran).toEqual([["doctor", "--json"]]);
    expect(f).toContain("[exit 0] $ devx doctor --json");
    await h.press(KEY.esc, "3");
    f = await h.until((x) => x.includes("devx doctor --json: exit 0"));
    expect(f).toMatch(/palette\s+devx doctor --json: exit 0/);
  });

  test("the line is split like a shell would (quotes), a leading devx is dropped, ↑ recalls the last line", async () => {
    h = await renderApp();
    await h.press(":");
    await h.press(`devx config show --profile "my team" -f 'a b.yaml'`, KEY.enter);
    await h.until((x) => x.includes("[exit 0]"));
    expect(h.ran).toEqual([["config", "show", "--profile", "my team", "-f", "a b.yaml"]]);
    await h.press(KEY.esc, ":", KEY.up);
    expect(await h.until((x) => x.includes(`devx config show --profile "my team" -f 'a b.yaml'`))).toContain(":config show");
  });

  test("Esc while a command runs stops it (its signal aborts) and returns to the pane", async () => {
    let aborted = false;
    const run: CommandRunner = (_args, onLine, signal) =>
      new Promise((resolve) => {
        onLine("working…", "stderr");
        signal.addEventListener("abort", () => {
          aborted = true;
          resolve(143);
        });
      });
    h = await renderApp({ run, initialPane: "containers" });
    await h.until((f) => f.includes("shop-api"));
    await h.press(":", "doctor", KEY.enter);
    expect(await h.until((f) => f.includes("working…"))).toContain("running…");
    await h.press(KEY.esc);
    await h.until((f) => f.includes("shop-api"));
    expect(aborted).toBe(true);
  });

  test("a whole chunk typed at once (paste, fast typing) is read key by key", async () => {
    h = await renderApp();
    await h.press(":doctor\r");
    await h.until((f) => f.includes("ran doctor"));
    expect(h.ran).toEqual([["doctor"]]);
  });
});

describe("pane actions", () => {
  test("a pane's actions are listed in the status bar; their key runs the command for the row under the cursor", async () => {
    const s = fakeSources();
    const withActions = { ...s.containers, actions: [{ key: "s", title: "stop", command: (row?: { cells: Record<string, string> }) => ["db", "rm", row?.cells.name ?? "", "--note", "it's"] }] };
    h = await renderApp({ sources: [s.vms, withActions], initialPane: "containers" });
    const f = await h.until((x) => x.includes("shop-api"));
    expect(f.split("\n").at(-1)).toContain("q quit  ? help  s stop  / filter");
    await h.press(KEY.right, "j", "s");
    await h.until((x) => x.includes("[exit 0]"));
    expect(h.ran).toEqual([["db", "rm", "shop-redis", "--note", "it's"]]);
  });
});

describe("pane tasks (use-cases with no command of their own)", () => {
  test("the task runs for the row under the cursor, its lines or its error and hint are shown; back on the pane it reloads", async () => {
    const { ConflictError } = await import("../../../src/errors.ts");
    const s = fakeSources();
    const calls: string[] = [];
    const withTask = {
      ...s.containers,
      actions: [
        { key: "R", title: "restart", task: (row?: { id: string; cells: Record<string, string> }) => row && { label: `restart ${row.cells.name}`, run: async (onLine: (l: string) => void) => { calls.push(row.id); onLine(`${row.cells.name}: healthy`); } } },
        { key: "x", title: "stop", task: () => ({ label: "stop", run: async () => { throw new ConflictError("node is already stopping", "wait for it, then start it"); } }) },
      ],
    };
    h = await renderApp({ sources: [s.vms, withTask], initialPane: "containers" });
    await h.until((x) => x.includes("shop-api"));
    await h.press(KEY.right, "G", "R");
    let f = await h.until((x) => x.includes("[exit 0]"));
    expect(calls).toEqual(["c3"]);
    expect(f).toContain("$ devx restart shop-api");
    expect(f).toContain("shop-api: healthy");
    const loads = s.containers.loads; // the spread copy shares load() with the original
    await h.press(KEY.esc);
    await h.until(() => s.containers.loads > loads, "a reload after the action");
    await h.press("x");
    f = await h.until((x) => x.includes("[exit 1]"));
    expect(f).toContain("node is already stopping");
    expect(f).toContain("hint: wait for it, then start it");
  });
});

describe("help and quit", () => {
  test("? shows the keys; Esc closes it", async () => {
    h = await renderApp({ initialPane: "containers", size: { columns: 100, rows: 30 } });
    await h.press("?");
    const f = await h.until((x) => x.includes("Everywhere"));
    for (const k of ["filter the rows", "command palette", "quit", "the row's fields", "sort by the next column"]) expect(f).toContain(k);
    await h.press(KEY.esc);
    expect(await h.until((x) => x.includes("shop-api"))).not.toContain("Everywhere");
  });

  test("? lists the pane's own keys first: its actions (which ask first) and ⏎ for logs", async () => {
    const s = fakeSources();
    const pane = { ...s.containers, logs: async () => {}, actions: [{ key: "x", title: "stop", command: () => ["x"], confirm: () => "Stop?" }] };
    h = await renderApp({ sources: [s.vms, pane], initialPane: "containers" });
    await h.press("?");
    const lines = (await h.until((x) => x.includes("Everywhere"))).split("\n");
    const at = (t: string) => lines.findIndex((l) => l.includes(t));
    expect(at("│ Containers & databases")).toBeLessThan(at("Everywhere"));
    expect(lines[at("│ Containers & databases") + 1]).toMatch(/⏎ +the row's logs: follow, pause, wrap, search/);
    expect(lines[at("│ Containers & databases") + 2]).toMatch(/x +stop \(asks first\)/);
  });

  test("q and Ctrl-C quit; keys typed into the palette do not", async () => {
    h = await renderApp();
    await h.press(":", "q");
    expect(h.quits).toBe(0);
    await h.press(KEY.esc, "q");
    expect(h.quits).toBe(1);
    await h.press(KEY.ctrlC);
    expect(h.quits).toBe(2);
    expect(h.codes).toEqual([undefined, 130]); // Ctrl-C leaves like any cancelled command
  });
});

describe("refresh", () => {
  test("a pane loads when it is shown, again on r, and every refreshMs while visible (only the visible one)", async () => {
    const s = fakeSources();
    h = await renderApp({ sources: Object.values(s), initialPane: "containers", refreshMs: 40 });
    await h.until(() => s.containers.loads >= 3, "three periodic loads");
    expect(s.tunnels.loads).toBe(0);
    await h.press("j");
    await h.until(() => s.tunnels.loads >= 1, "tunnels loaded on focus");
    const before = s.containers.loads;
    await h.until(() => s.tunnels.loads >= 3, "tunnels refreshed");
    expect(s.containers.loads).toBe(before);
  });

  test("r reloads now; rows that change between loads are shown", async () => {
    let n = 1;
    const src = fakeSource("things", "Things", () => ({ kind: "rows", columns: [{ key: "name", title: "NAME" }], rows: Array.from({ length: n }, (_, i) => ({ id: String(i), cells: { name: `thing-${i}` } })) }));
    h = await renderApp({ sources: [src] });
    await h.until((f) => f.includes("Things (1)"));
    n = 2;
    await h.press("r");
    expect(await h.until((f) => f.includes("Things (2)"))).toContain("thing-1");
  });
});
