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
 * command from the palette, follows a resize, and on q gives the shell its screen back.
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
  writeFileSync(join(dir, "devx.yaml"), `name: ${project}\nprovider: podman\n`);
  if (withPodman) {
    const image = ensureBusyboxImage();
    const r = Bun.spawnSync(["podman", "run", "-d", "--name", container, "--label", "devx.managed=true", "--label", `devx.project=${project}`, "--label", "devx.kind=service", image, "sleep", "600"], { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`podman run: ${r.stderr.toString()}`);
  } else {
    console.warn("SKIPPING the live-container part of the tmux test: podman is not available");
  }
  tmux("new-session", "-d", "-s", session, "-x", "120", "-y", "32", "-c", dir, "-e", `DEVX_HOME=${join(dir, "home")}`, "bash --norc --noprofile");
}, 120_000);

afterAll(() => {
  if (!hasTmux) return;
  Bun.spawnSync(["tmux", "kill-session", "-t", session]);
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

  // resize: the layout follows the terminal
  tmux("resize-window", "-t", session, "-x", "90", "-y", "24");
  s = await until((x) => {
    const l = x.split("\n");
    return (l[23] ?? "").includes("q quit") && (l[22] ?? "").startsWith("╰") && (l[22] ?? "").trimEnd().length === 90;
  }, "the layout at 90x24");

  // q: the dashboard leaves, the shell's screen is back as it was, exit code 0
  keys("q");
  s = await until((x) => x.includes("AFTER-0"), "the shell after quitting");
  expect(s).toContain(`BEFORE-${id}`);
  expect(s).not.toContain("project:");
  expect(s).not.toContain("Containers & databases");
  const shown = s.split("\n").filter((l) => l.trim());
  expect(shown.at(-1)).toMatch(/[#$]$/); // the prompt is back, waiting
  expect(shown.at(-2)).toBe("AFTER-0");
  expect(before.split("\n").slice(0, 2)).toEqual(s.split("\n").slice(0, 2));
}, 60_000);

tmuxTest("Ctrl-C, and SIGTERM from outside, also restore the screen; both exit 130", async () => {
  keys("clear", "Enter");
  keys(`echo MARK2-${id}`, "Enter");
  await until((s) => s.split("\n").some((l) => l === `MARK2-${id}`), "the shell");

  keys(`${bin}; echo "CTRLC-$?"`, "Enter");
  await until((x) => x.includes("project: "), "the dashboard");
  keys("C-c");
  let s = await until((x) => x.includes("CTRLC-130"), "the shell after Ctrl-C");
  expect(s).toContain(`MARK2-${id}`);
  expect(s).not.toContain("project:");

  keys(`${bin}; echo "TERM-$?"`, "Enter");
  await until((x) => x.includes("project: "), "the dashboard again");
  const shell = tmux("display-message", "-p", "-t", session, "#{pane_pid}").trim();
  // the dashboard is the shell's only child: signal exactly that process
  const child = Bun.spawnSync(["pgrep", "-P", shell], { stdout: "pipe" }).stdout.toString().trim().split("\n")[0]!;
  expect(child).toMatch(/^\d+$/);
  process.kill(Number(child), "SIGTERM");
  s = await until((x) => x.includes("TERM-130"), "the shell after SIGTERM");
  expect(s).toContain(`MARK2-${id}`);
  expect(s).not.toContain("project:");
}, 60_000);
