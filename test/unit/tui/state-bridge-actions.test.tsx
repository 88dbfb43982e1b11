import { KEY, fakeSource, renderApp, type Harness } from "./support.tsx";
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Deps } from "../../../src/cli/deps.ts";
import { bridgeSource, shareIdFromJson, snapshotsSource } from "../../../tui/sources/live.ts";
import { osc52 } from "../../../tui/clipboard.ts";
import type { CommandRunner, PaneSource } from "../../../tui/types.ts";

/**
 * The Snapshots and Bridge panes' actions (issue 3/4 "In the dashboard"): share with a copy key,
 * attach through a hidden prompt → plan (--dry-run) → y applies, undo/restore plan-first, bridge
 * connect/intercept prompts, disconnect of the row's session, and the orphan badge.
 */
let h: Harness | undefined;
afterEach(() => h?.unmount());

const ID = "file:///srv/relay/mfrggzdf.devx:radar-muscular-duller-encounter";
const deps = { paths: { state: mkdtempSync(join(tmpdir(), "devx-tui-actions-")) }, env: {}, cwd: "/", findConfig: async () => undefined } as unknown as Deps;
const lastLine = (f: string) => f.split("\n").at(-1) ?? "";

/** a runner that records argv and env, and answers like the commands would */
function recorder(answer: (args: string[]) => { code: number; lines: string[] }) {
  const calls: Array<{ args: string[]; env?: Record<string, string> }> = [];
  const run: CommandRunner = async (args, onLine, _signal, env) => {
    calls.push({ args, env });
    const a = answer(args);
    for (const l of a.lines) onLine(l, "stdout");
    return a.code;
  };
  return { calls, run };
}

describe("Snapshots pane", () => {
  test("attach: the share ID is typed into a masked prompt and passed in the child's env; the plan comes first, y applies it", async () => {
    const r = recorder((args) => ({ code: 0, lines: args.includes("--dry-run") ? ["plan (full), nothing changed (--dry-run):", "  restore app"] : ["attached (full): 1 container(s) restored"] }));
    h = await renderApp({ sources: [snapshotsSource(deps)], initialPane: "snapshots", run: r.run });
    await h.until((f) => f.includes("no snapshots on this machine"));
    expect(lastLine(h.frame())).toContain("S share  a attach  u undo  R restore");
    await h.press(KEY.right, "a");
    expect(lastLine(await h.until((f) => lastLine(f).includes("share ID (hidden):")))).toContain("⏎ ok");
    await h.press(ID); // pasted as one chunk
    let f = await h.until((x) => lastLine(x).includes("•".repeat(40)));
    expect(f).not.toContain("radar");
    await h.press(KEY.enter);
    f = await h.until((x) => x.includes("[exit 0]"));
    expect(r.calls).toEqual([{ args: ["state", "attach", "--dry-run"], env: { DEVX_SHARE_ID: ID } }]);
    expect(f).toContain("$ devx state attach --dry-run ‹share ID›");
    expect(f).toContain("restore app");
    expect(f).not.toContain("radar");
    expect(lastLine(f)).toContain("y apply");
    await h.press("y");
    f = await h.until((x) => x.includes("attached (full)"));
    expect(r.calls[1]).toEqual({ args: ["state", "attach", "-y"], env: { DEVX_SHARE_ID: ID } });
    expect(f).toContain("$ devx state attach ‹share ID› -y");
    expect(f).not.toContain("radar");
  });

  test("Esc or an empty line cancels the prompt and runs nothing", async () => {
    const r = recorder(() => ({ code: 0, lines: [] }));
    h = await renderApp({ sources: [snapshotsSource(deps)], initialPane: "snapshots", run: r.run });
    await h.until((f) => f.includes("no snapshots on this machine"));
    await h.press(KEY.right, "a", "x", "y", KEY.esc);
    await h.until((f) => lastLine(f).includes("q quit"));
    await h.press("a", KEY.enter);
    await h.until((f) => lastLine(f).includes("q quit"));
    expect(r.calls).toEqual([]);
  });

  test("share: the share ID from share's --json result can be copied to the clipboard (OSC 52) with c", async () => {
    const copied: string[] = [];
    // what `devx state share --json` prints: its one result document (ShareResult) on stdout
    const result: import("../../../src/core/state/share.ts").ShareResult = { id: ID, relay: "file:///srv/relay", object: "mfrggzdf.devx", mode: "full", containers: ["app"], databases: [], volumes: ["app-data"], bytes: 12_345 };
    const r = recorder(() => ({ code: 0, lines: JSON.stringify(result, null, 2).split("\n") }));
    h = await renderApp({ sources: [snapshotsSource(deps, { copy: (t) => copied.push(t) })], initialPane: "snapshots", run: r.run });
    await h.until((f) => f.includes("no snapshots on this machine"));
    await h.press(KEY.right, "S");
    const f = await h.until((x) => x.includes("[exit 0]"));
    expect(r.calls).toEqual([{ args: ["state", "share", "--json"], env: undefined }]);
    expect(lastLine(f)).toContain("c copy share ID");
    await h.press("c");
    await h.until((x) => x.includes("share ID copied to the clipboard"));
    expect(copied).toEqual([ID]);
    expect(osc52("a b")).toBe(`\x1b]52;c;${Buffer.from("a b").toString("base64")}\x07`);
  });

  test("undo and restore show their plan first; a failed plan offers nothing to apply", async () => {
    const r = recorder((args) => (args[1] === "undo" ? { code: 4, lines: ["error: nothing to undo"] } : { code: 0, lines: ["plan: replace volume shop-data"] }));
    const rows: PaneSource = {
      ...snapshotsSource(deps),
      load: async () => ({ kind: "rows", columns: [{ key: "name", title: "NAME" }], rows: [{ id: "c:before-demo", cells: { kind: "checkpoint", name: "before-demo" } }, { id: "d:pg-seed", cells: { kind: "db snapshot", name: "pg-seed" } }] }),
    };
    h = await renderApp({ sources: [rows], initialPane: "snapshots", run: r.run });
    await h.until((f) => f.includes("before-demo"));
    await h.press(KEY.right, "u");
    let f = await h.until((x) => x.includes("[exit 4]"));
    expect(lastLine(f)).not.toContain("y apply");
    await h.press("y");
    expect(r.calls.map((c) => c.args)).toEqual([["state", "undo", "--dry-run"]]);
    await h.press(KEY.esc, "j", "R");
    f = await h.until((x) => x.includes("[exit 0]"));
    await h.press("y");
    await h.until(() => r.calls.length === 3);
    expect(r.calls.map((c) => c.args)).toEqual([["state", "undo", "--dry-run"], ["db", "snapshot", "restore", "pg-seed", "--dry-run"], ["db", "snapshot", "restore", "pg-seed", "-y"]]);
  });

  test("the share ID is read from the JSON result only: status text or a failure offers nothing to copy", () => {
    expect(shareIdFromJson(JSON.stringify({ id: ID, bytes: 1 }))).toBe(ID);
    expect(shareIdFromJson(["share ID (db-only, 1.0 MiB):", `  ${ID}`].join("\n"))).toBeUndefined();
    expect(shareIdFromJson('{"error":{"kind":"network","message":"relay unreachable"}}')).toBeUndefined();
  });
});

describe("Bridge pane", () => {
  const sessions = () => ({
    kind: "rows" as const,
    columns: [
      { key: "mode", title: "MODE" },
      { key: "target", title: "CLUSTER" },
    ],
    rows: [{ id: "i:s-42", cells: { mode: "intercept", target: "shop/api", session: "s-42" } }],
    badge: "2 orphans in the cluster (devx bridge cleanup)",
  });

  test("connect and intercept ask for their targets; disconnect acts on the row's session; orphans show as a badge", async () => {
    const r = recorder(() => ({ code: 0, lines: ["ok"] }));
    const real = bridgeSource(deps);
    const pane = { ...fakeSource("bridge", "Bridge", sessions), actions: real.actions };
    h = await renderApp({ sources: [pane], initialPane: "bridge", run: r.run });
    let f = await h.until((x) => x.includes("shop/api"));
    expect(f).toContain("Bridge (1) ⚠ 2 orphans in the cluster (devx bridge cleanup)");
    expect(lastLine(f)).toContain("c connect  i intercept  x disconnect");
    await h.press(KEY.right, "c");
    await h.until((x) => lastLine(x).includes("Services to forward"));
    await h.press("api:80 db", KEY.enter);
    await h.until((x) => x.includes("[exit 0]"));
    await h.press(KEY.esc, "i");
    await h.until((x) => lastLine(x).includes("Service to intercept"));
    await h.press("api --port 80:3000 --mirror", KEY.enter);
    f = await h.until((x) => x.includes("$ devx bridge intercept"));
    // disconnect is destructive: it asks first; anything but y leaves the session alone
    await h.press(KEY.esc, "x");
    f = await h.until((x) => lastLine(x).includes("Disconnect intercept shop/api (session s-42)? y yes"));
    await h.press("n");
    await h.until((x) => lastLine(x).includes("q quit"));
    expect(r.calls).toHaveLength(2);
    await h.press("x", "y");
    await h.until(() => r.calls.length === 3);
    expect(r.calls.map((c) => c.args)).toEqual([
      ["bridge", "connect", "--detach", "-t", "api:80", "-t", "db"],
      ["bridge", "intercept", "--detach", "api", "--port", "80:3000", "--mirror"],
      ["bridge", "disconnect", "--session", "s-42"],
    ]);
  });
});
