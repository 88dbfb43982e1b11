import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { vmIgnition, vmInit, vmStatus } from "../../../src/core/vm/lifecycle.ts";
import { noUsableProvider } from "../../../src/core/vm/vm-context.ts";
import { readVmTunnel } from "../../../src/core/tunnel/local-state.ts";
import { NotFoundError, ProviderError } from "../../../src/errors.ts";
import { runCli } from "../../../src/cli/run.ts";
import { memoryIO } from "../../../src/cli/io.ts";
import { vmSource } from "../../../tui/sources/live.ts";
import { ExecStub, type StubEntry } from "../../support/exec-stub.ts";
import { startFakeCloudflare } from "../../support/fake-cloudflare.ts";
import { BINS, testDeps } from "./helpers.ts";
import { PODMAN } from "./fixtures.ts";

/**
 * The first `devx vm init` on a machine that never ran podman machine, and the commands that only
 * print (a plan, a machine configuration) or report, on machines whose podman is missing or too old
 * for `podman machine` (Debian's podman 4.3).
 */
const cleanHome = () => {
  const home = join(process.env.DEVX_TEST_ROOT!, `clean-${crypto.randomUUID().slice(0, 8)}`);
  mkdirSync(home, { recursive: true });
  return home;
};
const oldPodman: StubEntry = { argv: ["podman", "--version"], stdout: PODMAN.versionOld };

describe("the first vm init on a clean HOME", () => {
  test("creates podman's key folder before ssh-keygen, then the tunnel, the Ignition file and the VM", async () => {
    await using cf = await startFakeCloudflare();
    const home = cleanHome();
    const keyPath = join(home, ".local/share/containers/podman/machine/machine");
    const ign = join(home, "devx", "state", "vm", "devx", "ignition.json");
    const stub = new ExecStub(
      [
        { argv: ["podman", "--version"], stdout: PODMAN.version },
        { argv: ["podman", "machine", "inspect", "devx"], stderr: PODMAN.inspectMissingStderr, code: 125 },
        {
          // ssh-keygen writes the pair but, like the real one, fails when the folder is missing
          argv: ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "podman-machine", "-f", keyPath],
          check: () => {
            if (!existsSync(join(keyPath, ".."))) throw new Error(`Saving key "${keyPath}" failed: No such file or directory`);
            writeFileSync(keyPath, "private\n");
            writeFileSync(`${keyPath}.pub`, "ssh-ed25519 AAAAfirstrun podman-machine\n");
          },
        },
        { argv: ["podman", "machine", "init", "--cpus", "2", "--memory", "4096", "--disk-size", "60", "--ignition-path", ign, "devx"], stdout: PODMAN.initStdout },
        { argv: ["podman", "machine", "start", "devx"], stdout: PODMAN.startStdout },
      ],
      { podman: BINS.podman },
    );
    const t = testDeps(stub, { env: { HOME: home, CF: cf.token, DEVX_CLOUDFLARE_API: cf.url }, config: { vm: { provider: "podman", cloudflare: { account_id: cf.accountId, zone: cf.zone.name, api_token: "env:CF" } } } });
    const r = await vmInit(t.deps, {});
    stub.verify();
    // local steps first: a failure there leaves nothing behind at Cloudflare
    expect(r.steps.map((s) => s.kind)).toEqual(["mkdir", "exec", "api", "write", "exec", "exec"]);
    const ignition = JSON.parse(readFileSync(ign, "utf8"));
    expect(ignition.passwd.users[0].sshAuthorizedKeys).toEqual(["ssh-ed25519 AAAAfirstrun podman-machine"]);
    const [tunnel] = [...cf.tunnels.values()];
    expect((await readVmTunnel(t.deps.paths.state, cf.accountId, "devx"))?.tunnelId).toBe(tunnel!.id);
    expect(t.events.some((e) => e.type === "warning" && e.message.startsWith("no ssh public key found"))).toBe(true);
  });
});

describe("printing works without a usable provider; reports say what is wrong", () => {
  test("vm ignition and vm init --dry-run with podman missing or too old: the output, and the problem as a warning", async () => {
    for (const [stubs, bins, problem] of [
      [[], {}, "Podman machine (podman) is not installed"],
      [[oldPodman], { podman: BINS.podman }, "podman 4.3.1 is too old for `podman machine` (devx needs 4.6.0 or newer)"],
    ] as const) {
      const home = cleanHome();
      const ign = new ExecStub([...stubs], bins);
      const t = testDeps(ign, { env: { HOME: home }, config: { vm: { provider: "podman" } } });
      const r = await vmIgnition(t.deps, {});
      ign.verify();
      expect(JSON.parse(r.text).ignition.version).toBe("3.3.0");
      expect(t.events.find((e) => e.type === "warning")).toMatchObject({ message: expect.stringContaining(problem) });

      const dry = new ExecStub([...stubs], bins);
      const d = testDeps(dry, { env: { HOME: home }, global: { dryRun: true }, config: { vm: { provider: "podman" } } });
      const plan = await vmInit(d.deps, { dryRun: true });
      dry.verify();
      expect(plan.steps.map((s) => (s.kind === "exec" ? s.argv.slice(0, 3).join(" ") : s.kind))).toEqual(["mkdir", "ssh-keygen -q -t", "write", "podman machine init", "podman machine start"]);
      expect(plan.warnings[0]).toEqual({ feature: "provider", reason: expect.stringContaining(problem.replace("Podman machine (podman) is ", "")) });
      expect(existsSync(join(home, ".local"))).toBe(false);
    }
    // the real run still refuses
    const real = new ExecStub([oldPodman], { podman: BINS.podman });
    const e = await vmInit(testDeps(real, { env: { HOME: cleanHome() }, config: { vm: { provider: "podman" } } }).deps, {}).catch((x) => x);
    expect(e).toBeInstanceOf(ProviderError);
  });

  test("the CLI: `vm ignition` prints the config on stdout and the problem on stderr, exit 0", async () => {
    const home = cleanHome();
    const cwd = join(home, "proj");
    mkdirSync(cwd);
    writeFileSync(join(cwd, "devx.yaml"), "name: app\nvm:\n  provider: podman\n");
    const io = memoryIO();
    const code = await runCli(["vm", "ignition"], { io, exec: new ExecStub([oldPodman], { podman: BINS.podman }), cwd, env: { HOME: home, DEVX_HOME: join(home, "devx"), USER: "dev" } });
    expect(code).toBe(0);
    expect(JSON.parse(io.stdout()).ignition.version).toBe("3.3.0");
    expect(io.stderr()).toContain("podman 4.3.1 is too old for `podman machine`");
  });

  test("vm status and the dashboard's VMs pane on Linux with podman 4.3: podman too old for podman machine, and no VM needed", async () => {
    const deps = () => testDeps(new ExecStub([oldPodman], { podman: BINS.podman }), { env: { HOME: cleanHome() } }).deps;
    const e = await vmStatus(deps()).catch((x) => x);
    expect(e).toBeInstanceOf(ProviderError);
    expect(e.message).toBe("no usable VM provider (Podman machine 4.3.1: podman 4.3.1 is too old for `podman machine` (devx needs 4.6.0 or newer))");
    if (process.platform === "linux") expect(e.hint).toStartWith("on Linux devx does not need a VM: `devx db`, `devx up` and `devx state` use the local container runtime");
    const pane = await vmSource(deps())
      .load(new AbortController().signal)
      .catch((x) => x);
    expect([pane.message, pane.hint]).toEqual([e.message, e.hint]);
    // podman chosen in devx.yaml: the same two facts
    const chosen = await vmStatus(testDeps(new ExecStub([oldPodman], { podman: BINS.podman }), { env: { HOME: cleanHome() }, config: { vm: { provider: "podman" } } }).deps).catch((x) => x);
    expect(chosen.message).toBe("Podman machine cannot be used: podman 4.3.1 is too old for `podman machine` (devx needs 4.6.0 or newer)");
    if (process.platform === "linux") expect(chosen.hint).toContain("on Linux devx does not need a VM");
    // elsewhere the way out is an upgrade; with nothing installed, it says so
    expect(noUsableProvider([{ id: "podman", version: "4.3.1", usable: false, reason: "too old" }], "darwin").hint).toBe("upgrade Podman machine to get a VM, then run `devx doctor`");
    const none = noUsableProvider([], "linux");
    expect(none).toBeInstanceOf(NotFoundError);
    expect(none.hint).toContain("on Linux devx does not need a VM");
  });
});
