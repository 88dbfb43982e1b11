import { HEIGHT, WIDTH, fakeSources, renderApp } from "./support.tsx";
import { afterEach, describe, expect, test } from "bun:test";
import type { Harness } from "./support.tsx";

let h: Harness | undefined;
afterEach(() => h?.unmount());

const lines = (f: string) => f.split("\n");

describe("each pane at a fixed width, colours off", () => {
  test("the full screen: header, sidebar of every pane, a table, key hints; exactly the terminal's size", async () => {
    h = await renderApp({ initialPane: "containers" });
    const f = await h.until((x) => x.includes("shop-postgres") && x.includes("project: shop"));
    expect(lines(f)).toHaveLength(HEIGHT);
    for (const l of lines(f)) expect(l.length).toBeLessThanOrEqual(WIDTH);
    expect(lines(f)[0]).toBe(" devx 0.1.0 │ project: shop │ provider: podman │ VM: n/a");
    expect(lines(f).at(-1)).toContain("q quit  ? help");
    expect(f).toMatchSnapshot();
  });

  test("VMs (capability not built): says so plainly, no rows", async () => {
    h = await renderApp({ initialPane: "vms" });
    const f = await h.until((x) => x.includes("not available"));
    expect(f).toContain("VM management (devx vm) is not available in this build");
    expect(f).not.toContain("NAME");
    expect(f).toMatchSnapshot();
  });

  test("Containers & databases: one row per container, cursor on the first, ports and state", async () => {
    h = await renderApp({ initialPane: "containers" });
    const f = await h.until((x) => x.includes("shop-api"));
    expect(f).toContain("Containers & databases (3)");
    expect(f).toMatch(/NAME\s+KIND\s+STATE\s+PORTS/);
    // 66 columns for the table: the widest columns give up room first, cut with …
    expect(f).toMatch(/› shop-postgres\s+database\s+Up 3 minutes\s+127\.0\.0\.1:5432->54…/);
    expect(f).toMatch(/ {2}shop-api\s+service\s+Exited \(1\) 2 minu…/);
  });

  test("Tunnels: rows from its source", async () => {
    h = await renderApp({ initialPane: "tunnels" });
    const f = await h.until((x) => x.includes("https://web.example.dev"));
    expect(f).toMatch(/› web\s+https:\/\/web\.example\.dev/);
  });

  test("Bridge: a failing load is an error line with the hint, not a crash", async () => {
    h = await renderApp({ initialPane: "bridge" });
    const f = await h.until((x) => x.includes("error:"));
    expect(f).toContain("error: cannot reach the cluster");
    expect(f).toContain("hint: check your kube context: `kubectl config current-context`");
    expect(f).toContain("1 VMs"); // the rest of the dashboard is still there
  });

  test("Snapshots: an empty list shows the source's note", async () => {
    h = await renderApp({ initialPane: "snapshots" });
    const f = await h.until((x) => x.includes("no snapshots"));
    expect(f).toContain("Snapshots (0)");
    expect(f).toContain("no snapshots in the relay yet");
  });

  test("Services: while the first load runs the pane says loading", async () => {
    h = await renderApp({ initialPane: "services" });
    const f = await h.until((x) => x.includes("loading…"));
    expect(f).toContain("Services");
  });

  test("Sessions: not built in this build, says so", async () => {
    h = await renderApp({ initialPane: "sessions" });
    const f = await h.until((x) => x.includes("not available"));
    expect(f).toContain("Sandbox sessions (devx session) is not available in this build");
  });

  test("Logs: newest entry first, with time and source; updates without polling", async () => {
    const { LogStore } = await import("../../../tui/sources/log-store.ts");
    const { logsSource } = await import("../../../tui/sources/index.ts");
    const store = new LogStore(500, () => Date.UTC(2026, 0, 1, 10, 0, 5));
    const s = fakeSources();
    h = await renderApp({ sources: [s.vms, logsSource(store)], initialPane: "logs" });
    await h.until((x) => x.includes("nothing logged yet"));
    store.emit({ type: "step", id: "db", title: "start postgres", status: "done" });
    store.emit({ type: "warning", message: "port 5432 busy", hint: "stop the other postgres" });
    const f = await h.until((x) => x.includes("port 5432 busy"));
    expect(f).toContain("Logs (2)");
    const warn = f.indexOf("port 5432 busy");
    const step = f.indexOf("start postgres: done");
    expect(warn).toBeGreaterThan(0);
    expect(step).toBeGreaterThan(warn);
    expect(f).toMatch(/› 10:00:05\s+warning\s+port 5432 busy \(stop the other postgres\)/);
  });

  test("header without devx.yaml, and with an invalid one", async () => {
    h = await renderApp({ header: { vm: "n/a", provider: "podman" } });
    // the provider detected here, never the setting's "auto"
    expect(await h.until((x) => x.includes("(no devx.yaml)"))).toContain("project: (no devx.yaml) │ provider: podman");
    h.unmount();
    h = await renderApp({ header: { vm: "n/a" } });
    expect(await h.until((x) => x.includes("(no devx.yaml)"))).toContain("provider: none found");
    h.unmount();
    h = await renderApp({ header: { vm: "n/a", configError: "devx.yaml:3:1 services[0].port: expected a port number\nmore" } });
    const f = await h.until((x) => x.includes("devx.yaml:"));
    expect(f).toContain("devx.yaml: devx.yaml:3:1 services[0].port");
    expect(f).not.toContain("more");
  });

  test("a render bug in a pane shows as a message (not a torn-down terminal) and q still quits", async () => {
    const { fakeSource } = await import("./support.tsx");
    const broken = fakeSource("broken", "Broken", () => ({ kind: "rows", columns: undefined as never, rows: [{ id: "1", cells: {} }] }));
    const quiet = console.error;
    console.error = () => {}; // React reports the caught error on the console
    try {
      h = await renderApp({ sources: [broken] });
      const f = await h.until((x) => x.includes("the dashboard hit a bug"));
      expect(f).toContain("hint: press q to quit");
      await h.press("q");
      expect(h.quits).toBe(1);
    } finally {
      console.error = quiet;
    }
  });

  test("a narrow terminal truncates cells with … instead of wrapping", async () => {
    h = await renderApp({ initialPane: "containers", size: { columns: 70, rows: 12 } });
    const f = await h.until((x) => x.includes("shop-p"));
    expect(f).toContain("› 2 Containers &");
    expect(lines(f)).toHaveLength(12);
    for (const l of lines(f)) expect(l.length).toBeLessThanOrEqual(70);
    expect(f).toContain("…");
  });
});
