import { afterAll, beforeAll, expect } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBinary } from "../support/binary.ts";
import { ensureBusyboxImage, podmanAvailable } from "../support/images.ts";
import { required, testWith } from "../support/require.ts";

/**
 * The compiled binary in a real terminal (tmux): the dashboard opens on the alternate screen,
 * shows live containers from podman by their devx labels, moves between panes, filters, runs a
 * command from the palette, follows a resize, and on q gives the shell its screen back. Then a
 * running `devx up`'s node: its streaming log view, a stop that asks first, and the layout at
 * 160×45, 80×20 and 50×12.
 */
const id = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
const session = `devx-tui-${id}`;
const project = `tuitest-${id}`;
const container = `devx-tui-${id}-web`;
const withPodman = podmanAvailable();
const hasTmux = !!Bun.which("tmux");
const tmuxTest = testWith("tmux", hasTmux);
let dir = "";
let bin = "";

function tmux(...args: string[]): string {
  const r = Bun.spawnSync(["tmux", ...args], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`tmux ${args.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}
const screen = () => tmux("capture-pane", "-p", "-t", session);
const keys = (...k: string[]) => tmux("send-keys", "-t", session, ...k);
const type = (text: string) => tmux("send-keys", "-t", session, "-l", "--", text);

/** Poll the terminal until the condition holds: the wait is on what the screen shows, not on time. */
async function until(pred: (s: string) => boolean, what: string, ms = 10_000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const s = screen();
    if (pred(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; screen:\n${s}`);
    await Bun.sleep(40);
  }
}

beforeAll(() => {
  if (!hasTmux) return;
  if (!withPodman && required("podman")) throw new Error("podman is required (DEVX_TEST_REQUIRE) for the live Containers pane but not available");
  // (the beforeAll may build the binary and the busybox image: both cached after the first run)
  bin = ensureBinary();
  dir = mkdtempSync(join(tmpdir(), "devx-tui-"));
  writeFileSync(join(dir, "devx.yaml"), `name: ${project}\nprovider: podman\nservices:\n  - name: web\n    command: $DEVX_BIN example-service --name web\n    port: ${15000 + (process.pid % 5000)}\n    healthcheck: { http: /health }\n`);
  if (withPodman) {
    const image = ensureBusyboxImage();
    const ticks = "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done";
    const r = Bun.spawnSync(["podman", "run", "-d", "--name", container, "--label", "devx.managed=true", "--label", `devx.project=${project}`, "--label", "devx.kind=service", image, "sh", "-c", ticks], { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`podman run: ${r.stderr.toString()}`);
  } else {
    console.warn("SKIPPING the live-container part of the tmux test: podman is not available");
  }
  tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "32", "-c", dir, "-e", `DEVX_HOME=${join(dir, "home")}`, "bash --norc --noprofile");
}, 120_000);

afterAll(() => {
  if (!hasTmux) return;
  Bun.spawnSync(["tmux", "kill-session", "-t", session]);
  if (bin) Bun.spawnSync([bin, "down"], { cwd: dir, env: { ...process.env, DEVX_HOME: join(dir, "home") }, stdout: "ignore", stderr: "ignore" });
  if (withPodman) Bun.spawnSync(["podman", "rm", "-f", "-t", "0", container], { stdout: "ignore", stderr: "ignore" });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

tmuxTest("dashboard in tmux: live panes, moving, filter, palette, resize, and the screen restored on q", async () => {
  keys(`echo BEFORE-${id}`, "Enter");
  const before = await until((s) => s.split("\n").some((l) => l === `BEFORE-${id}`), "the shell");
  keys(`${bin}; echo "AFTER-$?"`, "Enter");

  // opens full screen, on the alternate screen: the shell's lines are gone while it runs
  let s = await until((x) => x.includes(`project: ${project}`) && x.includes("Containers & databases ("), "the first frame with the header");
  expect(s).not.toContain(`BEFORE-${id}`);
  // the runtime detected, not the setting
  expect(s).toContain("provider: podman");
  expect(s.split("\n")[31]).toContain("q quit");
  if (withPodman) {
    s = await until((x) => x.includes(container), "the labelled container");
    // other projects' devx containers on this machine are listed too, and may sort before ours
    expect(s).toMatch(new RegExp(`[› ] ${container}\\s+service\\s+tui`));
  }

  // moving between panes
  keys("j");
  // no Cloudflare account here: the pane is an error line with the hint, the dashboard carries on
  s = await until((x) => /› 3 Tunnels/.test(x) && x.includes("hint:"), "the Tunnels pane");
  expect(s).toContain("error: no Cloudflare account id");
  keys("k");
  await until((x) => /› 2 Containers & databases/.test(x), "back on Containers");

  // filter: only matching rows, then Esc brings all back
  if (withPodman) {
    keys("/");
    type(`tui-${id}-w`);
    s = await until((x) => x.includes(`filter: tui-${id}-w`) && /\(1\/\d+\)/.test(x), "the filtered table");
    expect(s).toContain(container);
    keys("Enter", "Escape");
    await until((x) => !x.includes("filter:"), "the filter cleared");
  } else {
    keys("/");
    type("zz-no-match");
    await until((x) => x.includes("filter: zz-no-match"), "the filter typed");
    keys("Escape");
    await until((x) => !x.includes("filter:"), "the filter cleared");
  }

  // the palette runs a real command through the binary itself
  type(":help exit-codes");
  keys("Enter");
  s = await until((x) => x.includes("[exit 0] $ devx help exit-codes"), "the command output");
  expect(s).toMatch(/2 {2}usage/);
  keys("Escape");
  keys("8");
  s = await until((x) => x.includes("Logs (") && x.includes("devx help exit-codes: exit 0"), "the run in the Logs pane");

  // ⏎ on a container: its output streams in the log view, following; / finds lines
  if (withPodman) {
    keys("2", "/");
    type(`tui-${id}-w`);
    keys("Enter", "Enter");
    s = await until((x) => x.includes(`Logs › ${container}`) && /tick \d+/.test(x), "the container's log view");
    const tick = (x: string) => Math.max(...[...x.matchAll(/tick (\d+)/g)].map((m) => Number(m[1])));
    const first = tick(s);
    s = await until((x) => tick(x) > first + 2, "new lines while following");
    expect(s).toContain("[following]");
    keys(" ");
    s = await until((x) => /paused \+\d+ new/.test(x), "paused with new lines waiting");
    keys("Escape");
    await until((x) => !x.includes("Logs ›") && x.includes("NAME") && x.includes("filter:"), "back on the filtered table");
    keys("Escape");
    await until((x) => !x.includes("filter:"), "the filter cleared");
  }

  // resize: the layout follows the terminal
  tmux("resize-window", "-t", session, "-x", "90", "-y", "24");
  s = await until((x) => {
    const l = x.split("\n");
    return (l[23] ?? "").includes("q quit") && (l[22] ?? "").startsWith("╰") && (l[22] ?? "").trimEnd().length === 90;
  }, "the layout at 90x24");

  // q: the dashboard leaves, the shell's screen is back as it was, exit code 0
  keys("q");
  const prompt = (x: string) => x.split("\n").filter((l) => l.trim()).at(-1) ?? "";
  s = await until((x) => x.includes("AFTER-0") && /[#$]$/.test(prompt(x)), "the shell after quitting");
  expect(s).toContain(`BEFORE-${id}`);
  expect(s).not.toContain("project:");
  expect(s).not.toContain("Containers & databases");
  const shown = s.split("\n").filter((l) => l.trim());
  expect(shown.at(-1)).toMatch(/[#$]$/); // the prompt is back, waiting
  expect(shown.at(-2)).toBe("AFTER-0");
  expect(before.split("\n").slice(0, 2)).toEqual(s.split("\n").slice(0, 2));
}, 60_000);

/** The header row of the table: whole titles, two spaces or more apart, nothing cut with "…". */
const TITLES = new Set(["NAME", "RUNTIME", "STATE", "HEALTH", "CPU", "MEM", "PORT", "RESTARTS", "UPTIME", "DEPENDS ON", "KIND", "PROJECT", "PORTS", "IMAGE"]);
function checkLayout(x: string, cols: number, rows: number): void {
  const l = x.replace(/\n$/, "").split("\n");
  expect(l).toHaveLength(rows);
  for (const line of l) expect(line.length).toBeLessThanOrEqual(cols);
  // the top bar is one line with its separators spaced; the next line is the frame
  expect(l[0]).toMatch(/^ devx \d+\.\d+\.\d+( │ [a-zA-Z]+: \S[^│]*)+$/);
  expect(l[0]).not.toMatch(/\S│|│\S/);
  expect(l[1]!.trimStart()).toMatch(/^╭/);
  const head = l.find((line) => /│ {2,3}NAME/.test(line))!;
  expect(head).toBeDefined();
  const table = head.slice(head.lastIndexOf("│", head.indexOf("NAME")) + 1).replace(/│\s*$/, "");
  const titles = table.trim().split(/ {2,}/).map((t) => t.replace(/ [▲▼]$/, ""));
  for (const t of titles) expect(TITLES.has(t) ? t : `cut or unknown title "${t}" in ${JSON.stringify(head)}`).toBe(t);
  expect(l[rows - 1]).toContain("q quit");
}

tmuxTest("devx up's node: its streaming log view, a stop that asks first, and the layout at 160×45, 80×20 and 50×12", async () => {
  keys("clear", "Enter");
  keys(`${bin} up --detach >/dev/null 2>&1; echo "UP-$?"`, "Enter");
  await until((x) => x.includes("UP-0"), "devx up --detach", 30_000);
  tmux("resize-window", "-t", session, "-x", "160", "-y", "45");
  keys("clear", "Enter");
  keys(`${bin}; echo "DONE-$?"`, "Enter");
  await until((x) => x.includes(`project: ${project}`), "the dashboard");
  keys("6");
  let s = await until((x) => /› web +host +healthy/.test(x), "the web node, healthy");
  checkLayout(s, 160, 45);

  // ⏎: the node's log, streamed from devx up's log file
  keys("Enter");
  s = await until((x) => x.includes("Logs › web") && x.includes("web listening on http://127.0.0.1:"), "the node's log view");
  expect(s).toContain("[devx] started (pid");
  keys("/");
  type("listening");
  keys("Enter");
  s = await until((x) => x.includes("/listening 1/1"), "the search");
  // one Esc at a time: two ESC bytes in one read are one key to a terminal program
  keys("Escape");
  await until((x) => !x.includes("/listening"), "the search cleared");
  keys("Escape");
  await until((x) => !x.includes("Logs ›"), "back on the table");

  // x asks first: n leaves the node running, y stops it
  keys("x");
  s = await until((x) => x.split("\n")[44]!.includes("Stop web (devx up node)? y yes"), "the confirmation");
  keys("n");
  await until((x) => x.split("\n")[44]!.includes("q quit"), "the question gone");
  s = screen();
  expect(s).toMatch(/web +host +healthy/);
  keys("x", "y");
  await until((x) => x.includes("web: stopped"), "the stop's outcome");
  keys("Escape");
  s = await until((x) => /› web +host +stopped/.test(x), "the node stopped");

  for (const [cols, rows] of [[80, 20], [50, 12]] as const) {
    tmux("resize-window", "-t", session, "-x", String(cols), "-y", String(rows));
    s = await until((x) => x.replace(/\n$/, "").split("\n").length === rows && (x.split("\n")[rows - 1] ?? "").includes("q quit") && x.includes("web"), `the layout at ${cols}x${rows}`);
    checkLayout(s, cols, rows);
  }
  // 50 columns: no sidebar; the pane says which it is
  expect(s).toContain("6 Services");
  expect(s).not.toContain("Containers & databases");
  keys("q");
  await until((x) => x.includes("DONE-0"), "the shell");
  tmux("resize-window", "-t", session, "-x", "120", "-y", "32");
}, 90_000);

tmuxTest("Ctrl-C, and SIGTERM from outside, also restore the screen; both exit 130; -f opens another directory's project", async () => {
  keys("clear", "Enter");
  keys(`echo MARK2-${id}`, "Enter");
  await until((s) => s.split("\n").some((l) => l === `MARK2-${id}`), "the shell");

  // from another directory, -f names the project: the dashboard is that project's
  keys(`cd / && ${bin} -f ${join(dir, "devx.yaml")}; echo "CTRLC-$?"; cd - >/dev/null`, "Enter");
  await until((x) => x.includes(`project: ${project}`), "the dashboard of the -f project");
  keys("C-c");
  let s = await until((x) => x.includes("CTRLC-130"), "the shell after Ctrl-C");
  expect(s).toContain(`MARK2-${id}`);
  expect(s).not.toContain("project:");

  // --no-color holds in the dashboard too: no colour escapes on the screen
  keys(`${bin} --no-color; echo "TERM-$?"`, "Enter");
  await until((x) => x.includes("project: ") && x.includes("q quit"), "the dashboard again");
  expect(tmux("capture-pane", "-e", "-p", "-t", session)).not.toMatch(/\x1b\[(3|9)\d(;\d+)*m/);
  const shell = tmux("display-message", "-p", "-t", session, "#{pane_pid}").trim();
  // the dashboard is the shell's only child: signal exactly that process
  const child = Bun.spawnSync(["pgrep", "-P", shell], { stdout: "pipe" }).stdout.toString().trim().split("\n")[0]!;
  expect(child).toMatch(/^\d+$/);
  process.kill(Number(child), "SIGTERM");
  s = await until((x) => x.includes("TERM-130"), "the shell after SIGTERM");
  expect(s).toContain(`MARK2-${id}`);
  expect(s).not.toContain("project:");
}, 60_000);
