import "./pin-colors.ts";
import { render } from "ink-testing-library";
import { NetworkError } from "../../../src/errors.ts";
import { App, type AppProps } from "../../../tui/App.tsx";
import { LogStore } from "../../../tui/sources/log-store.ts";
import type { CommandRunner, HeaderInfo, PaneData, PaneSource, Row } from "../../../tui/types.ts";

export const WIDTH = 100; // ink-testing-library's fixed stdout width
export const HEIGHT = 20;

/** A pane whose loads are counted and whose answer a test can change between loads. */
export function fakeSource(id: string, title: string, answer: () => Promise<PaneData> | PaneData, detail?: (row: Row) => string[]): PaneSource & { loads: number } {
  const s = {
    id,
    title,
    loads: 0,
    async load() {
      s.loads++;
      return answer();
    },
    ...(detail ? { detail: async (row: Row) => detail(row) } : {}),
  };
  return s;
}

export const containerRows: Row[] = [
  { id: "c1", cells: { name: "shop-postgres", kind: "database", state: "Up 3 minutes", ports: "127.0.0.1:5432->5432/tcp" }, tone: "ok" },
  { id: "c2", cells: { name: "shop-redis", kind: "database", state: "Up 3 minutes", ports: "127.0.0.1:6379->6379/tcp" }, tone: "ok" },
  { id: "c3", cells: { name: "shop-api", kind: "service", state: "Exited (1) 2 minutes ago", ports: "" }, tone: "dim" },
];

export const containerColumns = [
  { key: "name", title: "NAME" },
  { key: "kind", title: "KIND" },
  { key: "state", title: "STATE" },
  { key: "ports", title: "PORTS" },
];

export function fakeSources() {
  return {
    vms: fakeSource("vms", "VMs", () => ({ kind: "unavailable", reason: "VM management (devx vm) is not available in this build" })),
    containers: fakeSource("containers", "Containers & databases", () => ({ kind: "rows", columns: containerColumns, rows: containerRows }), (row) => ["last log lines:", `  ${row.cells.name} ready`]),
    tunnels: fakeSource("tunnels", "Tunnels", () => ({
      kind: "rows",
      columns: [
        { key: "name", title: "NAME" },
        { key: "url", title: "URL" },
      ],
      rows: [{ id: "t1", cells: { name: "web", url: "https://web.example.dev" } }],
    })),
    bridge: fakeSource("bridge", "Bridge", () => {
      throw new NetworkError("cannot reach the cluster", "check your kube context: `kubectl config current-context`");
    }),
    snapshots: fakeSource("snapshots", "Snapshots", () => ({ kind: "rows", columns: [{ key: "name", title: "NAME" }], rows: [], note: "no snapshots in the relay yet" })),
    services: fakeSource("services", "Services", () => new Promise<PaneData>(() => {})),
    sessions: fakeSource("sessions", "Sessions", () => ({ kind: "unavailable", reason: "Sandbox sessions (devx session) is not available in this build" })),
  };
}

export interface Harness {
  frame(): string;
  /** resolves once the last frame satisfies the predicate (fails after 3 s with the frame) */
  until(pred: (frame: string) => boolean, what?: string): Promise<string>;
  press(...keys: string[]): Promise<void>;
  quits: number;
  /** exit codes passed to quit, in order */
  codes: Array<number | undefined>;
  ran: string[][];
  logs: LogStore;
  unmount(): void;
}

export const KEY = { up: "\x1b[A", down: "\x1b[B", right: "\x1b[C", left: "\x1b[D", enter: "\r", esc: "\x1b", tab: "\t", backspace: "\x7f", ctrlC: "\x03" };

export async function renderApp(opts: { sources?: PaneSource[]; header?: HeaderInfo; run?: CommandRunner; refreshMs?: number; initialPane?: string; size?: { columns: number; rows: number } } = {}): Promise<Harness> {
  const logs = new LogStore(500, () => Date.UTC(2026, 0, 1, 10, 0, 0));
  const h: Harness = {
    quits: 0,
    codes: [],
    ran: [],
    logs,
    frame: () => inst.lastFrame() ?? "",
    async until(pred, what = "a matching frame") {
      const deadline = Date.now() + 3000;
      // frames arrive on Ink's render tick; wait for the condition, not for a fixed time
      while (!pred(h.frame())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last frame:\n${h.frame()}`);
        await new Promise((r) => setTimeout(r, 5));
      }
      return h.frame();
    },
    async press(...keys) {
      for (const k of keys) {
        const before = inst.frames.length;
        inst.stdin.write(k);
        // wait for the frame this key causes; keys that change nothing (q) give up after 150 ms.
        // A lone ESC is held ~20 ms by Ink to tell it from an escape sequence.
        const deadline = Date.now() + 150;
        while (inst.frames.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
      }
    },
    unmount: () => inst.unmount(),
  };
  const run: CommandRunner =
    opts.run ??
    (async (args, onLine) => {
      h.ran.push(args);
      onLine(`ran ${args.join(" ")}`, "stdout");
      return 0;
    });
  const props: AppProps = {
    version: "0.1.0",
    sources: opts.sources ?? Object.values(fakeSources()),
    commands: [
      { path: ["config", "validate"], summary: "check devx.yaml" },
      { path: ["config", "show"], summary: "print the effective config" },
      { path: ["doctor"], summary: "check what is installed" },
    ],
    run,
    loadHeader: async () => opts.header ?? { project: "shop", provider: "podman", vm: "n/a" },
    logs,
    refreshMs: opts.refreshMs ?? 0,
    quit: (code?: number) => {
      h.quits++;
      h.codes.push(code);
    },
    size: opts.size ?? { columns: WIDTH, rows: HEIGHT },
    initialPane: opts.initialPane,
  };
  const inst = render(<App {...props} />);
  return h;
}
