import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBinary, ensureBinary } from "../support/binary.ts";
import { rootHelp, commandHelp } from "../../src/cli/help.ts";
import { commands } from "../../src/cli/commands/index.ts";
import { VERSION } from "../../src/version.ts";

ensureBinary();

describe("compiled binary", () => {
  test("--version is exact", async () => {
    const r = await runBinary(["--version"]);
    expect(r).toEqual({ code: 0, stdout: `devx ${VERSION}\n`, stderr: "" });
  });

  test("--help is exactly the registry's help, grouped as in ARCHITECTURE.md", async () => {
    const r = await runBinary(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(rootHelp(commands));
    expect(r.stdout).toStartWith("devx — ");
    expect(r.stdout).toContain("Global flags:\n      --json ");
    // no arguments and no TTY: nothing ran, so the help goes to stderr with the usage exit code
    expect(await runBinary([])).toEqual({ code: 2, stdout: "", stderr: r.stdout });
  });

  test("global flags without a command, and before a subcommand", async () => {
    const dashboard = await runBinary(["-f", "other/devx.yaml"]);
    expect(dashboard.code).toBe(2);
    expect(dashboard.stderr).toStartWith("error: devx without a command opens the dashboard, which needs a terminal");
    const typo = await runBinary(["--jsn"]);
    expect(typo).toEqual({ code: 2, stdout: "", stderr: "error: unknown flag --jsn for `devx`\n  hint: did you mean --json?\n" });
    expect((await runBinary(["-v"])).stdout).toBe(`devx ${VERSION}\n`);
    const group = await runBinary(["config", "--json"]);
    expect(group.code).toBe(2);
    expect(JSON.parse(group.stdout).error.message).toBe("devx config needs a command");
    const before = await runBinary(["config", "--json", "schema"]);
    expect(before.code).toBe(0);
    expect(JSON.parse(before.stdout).$schema).toBeDefined();
  });

  test("every command's --help is exact", async () => {
    for (const c of commands.filter((x) => !x.hidden).slice(0, 40)) {
      const r = await runBinary([...c.path, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(commandHelp(c));
    }
  }, 60_000);

  test("an unknown command suggests the closest match, exit 2", async () => {
    const r = await runBinary(["docter"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('error: unknown command "docter"\n  hint: did you mean "devx doctor"?\n');
    expect(r.stdout).toBe("");
  });

  test("an unknown flag suggests the closest match, exit 2, JSON error on stdout with --json", async () => {
    const r = await runBinary(["doctor", "--fxi", "--json"]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout)).toEqual({ error: { kind: "usage", message: "unknown flag --fxi for `devx doctor`", hint: "did you mean --fix?", exitCode: 2 } });
  });

  test("an invalid devx.yaml exits 3 with its position", async () => {
    const dir = mkdtempSync(join(tmpdir(), "devx-e2e-"));
    writeFileSync(join(dir, "devx.yaml"), "name: shop\nservices:\n  - name: api\n    port: eighty\n");
    const r = await runBinary(["config", "validate"], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stderr).toBe("devx.yaml:4:11 services[0].port: expected a port number, got \"eighty\"\n1 problem found\n");
  });

  test("doctor --json is one JSON document with a check per tool", async () => {
    const r = await runBinary(["doctor", "--json"]);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    const ids = doc.checks.map((c: { id: string }) => c.id);
    for (const id of ["podman", "docker", "nerdctl", "limactl", "colima", "orb", "criu", "cloudflared", "tailscale", "kube", "config", "sessions"]) expect(ids).toContain(id);
    for (const c of doc.checks) {
      expect(["ok", "warn", "fail", "missing"]).toContain(c.status);
      if (c.status !== "ok") expect(typeof c.fix).toBe("string");
    }
  });

  test("--debug stack traces name source files, lines and functions, not minified chunks", async () => {
    const dir = mkdtempSync(join(tmpdir(), "devx-e2e-"));
    // a directory where devx.yaml should be: the loader's read fails, and --debug shows where
    const r = await runBinary(["config", "validate", "-f", dir, "--debug"]);
    expect(r.code).toBe(3);
    const frames = r.stderr.split("\n").filter((l) => /^\s+at /.test(l));
    expect(frames.length).toBeGreaterThan(0);
    expect(r.stderr).not.toContain("$bunfs/root/chunk-");
    expect(frames[0]).toMatch(/^\s+at [A-Za-z_$][\w$]{2,} \(src\/[\w/.-]+\.ts:\d+:\d+\)$/);
  });

  test("help exit-codes prints the table", async () => {
    const r = await runBinary(["help", "exit-codes"]);
    expect(r.stdout).toContain("  2  usage");
    expect(r.stdout).toContain("130  cancelled");
  });
});

describe("completion", () => {
  test("the scripts ask the binary (devx __complete), and an unknown shell is a usage error", async () => {
    for (const sh of ["bash", "zsh", "fish"]) expect((await runBinary(["completion", sh])).stdout).toContain("__complete");
    expect((await runBinary(["completion", "zsh"])).stdout).toStartWith("#compdef devx");
    expect((await runBinary(["completion", "tcsh"])).code).toBe(2);
    // bash parses it (completion itself: test/e2e/completion.test.ts)
    expect(Bun.spawnSync(["bash", "-n", "-c", (await runBinary(["completion", "bash"])).stdout]).exitCode).toBe(0);
  });
});
