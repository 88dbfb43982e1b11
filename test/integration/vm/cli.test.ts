import { describe, expect, test } from "bun:test";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../../../src/cli/run.ts";
import { memoryIO } from "../../../src/cli/io.ts";
import { ExecStub, type StubEntry } from "../../support/exec-stub.ts";
import { testWith } from "../../support/require.ts";
import { BINS, tempHome } from "../../unit/vm/helpers.ts";
import { LIMA, PODMAN, TAILSCALE } from "../../unit/vm/fixtures.ts";

function project(yaml: string): string {
  const dir = join(process.env.DEVX_TEST_ROOT!, `proj-${crypto.randomUUID().slice(0, 8)}`);
  Bun.spawnSync(["mkdir", "-p", dir]);
  writeFileSync(join(dir, "devx.yaml"), yaml);
  return dir;
}

async function cli(argv: string[], stubs: StubEntry[], opts: { yaml?: string; env?: Record<string, string> } = {}) {
  const { home } = tempHome();
  const exec = new ExecStub(stubs, BINS);
  const io = memoryIO();
  const cwd = project(opts.yaml ?? "name: app\nvm:\n  provider: podman\n");
  const code = await runCli(argv, { io, exec, cwd, env: { PATH: "/usr/bin", HOME: home, DEVX_HOME: join(home, "devx"), USER: "dev", ...opts.env } });
  return { code, out: io.stdout(), err: io.stderr(), exec, home, cwd };
}

const podmanVersion: StubEntry = { argv: ["podman", "--version"], stdout: PODMAN.version };

describe("devx vm (CLI)", () => {
  test("init --dry-run prints each command line in order, and nothing runs", async () => {
    const r = await cli(["vm", "init", "--dry-run"], [podmanVersion, { argv: ["podman", "machine", "inspect", "devx"], stderr: PODMAN.inspectMissingStderr, code: 125 }]);
    r.exec.verify();
    expect(r.code).toBe(0);
    const ign = join(r.home, "devx", "state", "vm", "devx", "ignition.json");
    expect(r.out).toBe(`# write ${ign} (mode 0600): ignition machine configuration\npodman machine init --cpus 2 --memory 4096 --disk-size 60 --ignition-path ${ign} devx\npodman machine start devx\n`);
  });

  test("status shows provider, state, resources and the tailnet IP", async () => {
    const r = await cli(
      ["vm", "status"],
      [podmanVersion, { argv: ["podman", "machine", "inspect", "devx"], stdout: PODMAN.inspectRunning }, { argv: ["podman", "machine", "ssh", "devx", "sudo", "podman", "exec", "devx-tailscale", "tailscale", "status", "--json"], stdout: TAILSCALE.status }],
      { yaml: "vm:\n  provider: podman\n  tailscale:\n    authkey: env:KEY\n", env: { KEY: "tskey-x" } },
    );
    r.exec.verify();
    expect(r.out.split("\n").slice(0, 5)).toEqual([
      "vm:        devx",
      "provider:  Podman machine 5.2.3 (chosen by project)",
      "state:     running  (4 CPUs, 4096 MiB, 60 GiB disk)",
      "runtime:   podman — podman --connection devx",
      "tailnet:   100.101.102.103 devx.tail1a2b3.ts.net (Running)",
    ]);
  });

  test("every command acts on the configured name (vm.name), not a hard-coded one", async () => {
    const yaml = "vm:\n  provider: lima\n  name: shop\n";
    const list = LIMA.list.replace('"name":"devx"', '"name":"shop"');
    const r = await cli(["vm", "sleep"], [{ argv: ["limactl", "--version"], stdout: LIMA.version }, { argv: ["limactl", "list", "--json"], stdout: list }, { argv: ["limactl", "stop", "shop"] }], { yaml });
    r.exec.verify();
    expect(r.code).toBe(0);
    expect(r.err).toContain("Lima cannot suspend");
    const rs = await cli(["vm", "resize", "--memory", "12GiB", "--dry-run", "--json"], [{ argv: ["limactl", "--version"], stdout: LIMA.version }, { argv: ["limactl", "list", "--json"], stdout: list }], { yaml });
    rs.exec.verify();
    expect(JSON.parse(rs.out).steps.map((s: { argv: string[] }) => s.argv.join(" "))).toEqual(["limactl stop shop", "limactl edit --tty=false --cpus 4 --memory 12 --disk 60 shop", "limactl start --tty=false shop"]);
  });

  test("resize without a size and rm without -y are usage errors (exit 2); ssh -- runs the command in the VM", async () => {
    expect((await cli(["vm", "resize"], [])).code).toBe(2);
    const rm = await cli(["vm", "rm"], [podmanVersion, { argv: ["podman", "machine", "inspect", "devx"], stdout: PODMAN.inspectRunning }]);
    expect(rm.code).toBe(2);
    expect(rm.err).toContain("-y");
    rm.exec.verify();
    const ssh = await cli(["vm", "ssh", "--", "uname", "-a"], [podmanVersion, { argv: ["podman", "machine", "ssh", "devx", "uname", "-a"], check: (c) => expect(c.inherit).toBe(true) }]);
    ssh.exec.verify();
    expect(ssh.code).toBe(0);
  });

  testWith("ignition-validate", !!Bun.which("ignition-validate"))("vm ignition: stdout and -o both pass ignition-validate; -o is 0600", async () => {
    const r = await cli(["vm", "ignition"], [podmanVersion]);
    expect(r.code).toBe(0);
    const file = join(r.home, "out.ign");
    writeFileSync(file, r.out);
    expect(Bun.spawnSync(["ignition-validate", file]).exitCode).toBe(0);
    const o = await cli(["vm", "ignition", "-o", join(r.home, "real.ign")], [podmanVersion]);
    expect(o.code).toBe(0);
    expect(statSync(join(r.home, "real.ign")).mode & 0o777).toBe(0o600);
    expect(Bun.spawnSync(["ignition-validate", join(r.home, "real.ign")]).exitCode).toBe(0);
    expect((await cli(["vm", "ignition", "--reveal-secrets"], [])).code).toBe(2);
  });
});
