import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBinary, runBinary } from "../support/binary.ts";
import { testWith } from "../support/require.ts";

/**
 * Shell completion through real shells: bash's completion function driven the way readline drives
 * it (COMP_WORDS, COMP_CWORD), then interactive bash and zsh in tmux pressing Tab. The names come
 * from a sandbox project: its devx.yaml (services, databases, profiles) and its state directory
 * (checkpoints, db snapshots, spawned databases' credentials).
 */
const root = mkdtempSync(join(tmpdir(), "devx-complete-"));
const proj = join(root, "proj");
const bindir = join(root, "bin");
const devxHome = join(root, "devx");
const id = `${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
let scripts = { bash: "", zsh: "" };
const env = () => ({ ...process.env, PATH: `${bindir}:/usr/bin:/bin`, DEVX_HOME: devxHome, HOME: join(root, "home"), NO_COLOR: "1" });

beforeAll(async () => {
  mkdirSync(bindir, { recursive: true });
  symlinkSync(ensureBinary(), join(bindir, "devx"));
  mkdirSync(join(proj, "configs"), { recursive: true });
  mkdirSync(join(root, "home"), { recursive: true });
  writeFileSync(join(proj, "devx.yaml"), ["name: shop", "services:", "  - name: api", "    command: sleep 1", "  - name: worker", "    command: sleep 1", "databases:", "  - engine: postgres", "    name: orders", "profiles:", "  with-cache: {}", ""].join("\n"));
  writeFileSync(join(proj, "configs", "other.yaml"), "name: other\n");
  for (const [dir, name] of [["checkpoints", "before-migration"], ["checkpoints", "clean"], ["db-snapshots", "seeded"]]) mkdirSync(join(devxHome, "state", dir!, name!), { recursive: true });
  mkdirSync(join(devxHome, "state", "db", "shop"), { recursive: true });
  writeFileSync(join(devxHome, "state", "db", "shop", "cache.credentials.json"), "{}");
  scripts = { bash: (await runBinary(["completion", "bash"])).stdout, zsh: (await runBinary(["completion", "zsh"])).stdout };
}, 60_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));

/** What bash offers for a line (the cursor at its end), as readline would ask. */
function bash(line: string): string[] {
  const words = line.split(" ");
  const script = `${scripts.bash}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; COMP_LINE='${line}'; COMP_POINT=${line.length}; _devx; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = Bun.spawnSync(["bash", "--norc", "--noprofile", "-c", script], { cwd: proj, env: env(), stdout: "pipe", stderr: "pipe" });
  return r.stdout.toString().split("\n").filter(Boolean);
}

describe("bash", () => {
  test("commands and flags, also after a flag that takes a value", () => {
    expect(bash("devx doc")).toEqual(["doctor"]);
    expect(bash("devx config ")).toEqual(["validate", "show", "schema"]);
    expect(bash("devx -f devx.yaml u")).toEqual(["up"]);
    expect(bash("devx --profile with-cache --json db l")).toEqual(["ls", "logs"]);
    expect(bash("devx doctor --f")).toEqual(["--fix", "--file"]);
    expect(bash("devx logs --fol")).toEqual(["--follow"]);
  });

  test("file names after -f and --file", () => {
    expect(bash("devx -f conf")).toEqual(["configs"]);
    expect(bash("devx up --file configs/o")).toEqual(["configs/other.yaml"]);
  });

  test("help <command>, completion <shell>, profiles", () => {
    expect(bash("devx help sta")).toEqual(["start", "state"]);
    expect(bash("devx help state re").sort()).toEqual(["recover", "restore"]);
    expect(bash("devx help ex")).toEqual(["exit-codes"]);
    expect(bash("devx completion ")).toEqual(["bash", "zsh", "fish"]);
    expect(bash("devx up --profile ")).toEqual(["with-cache"]);
  });

  test("names from local state: databases, checkpoints, db snapshots, nodes", () => {
    expect(bash("devx db logs ")).toEqual(["orders", "cache"]);
    expect(bash("devx db spawn p")).toEqual(["postgres"]);
    expect(bash("devx state restore ")).toEqual(["before-migration", "clean"]);
    expect(bash("devx db snapshot rm ")).toEqual(["seeded"]);
    expect(bash("devx logs ")).toEqual(["api", "worker", "orders"]);
    // a name already on the line is not offered again
    expect(bash("devx up api ")).toEqual(["worker", "orders"]);
    // another project's names with -f
    expect(bash("devx -f configs/other.yaml logs ")).toEqual([]);
  });
});

const hasTmux = !!Bun.which("tmux");
const hasZsh = !!Bun.which("zsh");

let sessions = 0;

/** An interactive shell in tmux: type a line, press Tab, read what the line became. */
async function tabIn(shell: string[], setup: string[], typed: string, expectLine: RegExp | string): Promise<string> {
  const session = `devx-complete-${id}-${shell[0]}-${++sessions}`;
  const tmux = (...a: string[]) => Bun.spawnSync(["tmux", ...a], { stdout: "pipe", stderr: "pipe" });
  const screen = () => tmux("capture-pane", "-p", "-t", session).stdout.toString();
  const until = async (pred: (s: string) => boolean, what: string) => {
    // generous: a loaded machine (CI runs beside other jobs) starts a shell slowly
    const deadline = Date.now() + 25_000;
    for (;;) {
      const s = screen();
      if (pred(s)) return s;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; screen:\n${s}`);
      await Bun.sleep(30);
    }
  };
  const e = env();
  tmux("new-session", "-d", "-s", session, "-x", "150", "-y", "20", "-c", proj, shell.join(" "));
  try {
    // keys typed before the shell has drawn its first prompt may be dropped by its line editor
    await until((x) => x.trim().length > 0, "the first prompt");
    // set here, not with tmux -e: a tmux server that is already running keeps its own PATH
    for (const l of [`export PATH='${e.PATH}' DEVX_HOME='${e.DEVX_HOME}' HOME='${e.HOME}'; PS1='$ '; PROMPT='$ '`, ...setup]) tmux("send-keys", "-t", session, "-l", "--", l), tmux("send-keys", "-t", session, "Enter");
    tmux("send-keys", "-t", session, "-l", "--", "echo READY-$((6*7))");
    tmux("send-keys", "-t", session, "Enter");
    await until((s) => s.includes("READY-42"), "the shell");
    tmux("send-keys", "-t", session, "-l", "--", typed);
    tmux("send-keys", "-t", session, "Tab");
    const s = await until((x) => x.split("\n").some((l) => (typeof expectLine === "string" ? l.includes(expectLine) : expectLine.test(l))), `the completion of "${typed}"`);
    // the shell still finds commands afterwards: completion did not empty $PATH
    tmux("send-keys", "-t", session, "C-u");
    tmux("send-keys", "-t", session, "-l", "--", "ls -d configs && echo PATH-OK");
    tmux("send-keys", "-t", session, "Enter");
    await until((x) => x.includes("\nPATH-OK"), "a command after completing");
    return s;
  } finally {
    tmux("kill-session", "-t", session);
  }
}

testWith("tmux", hasTmux)("interactive bash: Tab after -f FILE completes the command", async () => {
  await tabIn(["bash", "--norc", "--noprofile", "-i"], ["source <(devx completion bash)"], "devx -f devx.yaml u", "$ devx -f devx.yaml up");
}, 60_000);

describe("zsh", () => {
  const zshTest = testWith("zsh", hasTmux && hasZsh);
  const setup = ["autoload -Uz compinit && compinit -u -d $HOME/.zcompdump", "source <(devx completion zsh)"];

  test("the script keeps zsh's words and PATH: no local words or path", () => {
    expect(scripts.zsh).not.toMatch(/local (-a )?(words|path)\b/);
    expect(scripts.zsh).not.toMatch(/local[^\n]*\b(words|path)=/);
  });

  zshTest("Tab after -f FILE completes the command, then PATH still works", async () => {
    await tabIn(["zsh", "-f", "-i"], setup, "devx -f devx.yaml u", "$ devx -f devx.yaml up");
  }, 60_000);

  zshTest("Tab lists checkpoint names from the state directory", async () => {
    const s = await tabIn(["zsh", "-f", "-i"], setup, "devx state restore ", /before-migration/);
    expect(s).toContain("clean");
  }, 60_000);

  zshTest("Tab after -f completes file names", async () => {
    await tabIn(["zsh", "-f", "-i"], setup, "devx -f configs/ot", "$ devx -f configs/other.yaml");
  }, 60_000);
});
