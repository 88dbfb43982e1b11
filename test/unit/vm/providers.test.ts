import { describe, expect, test } from "bun:test";
import { COMMANDS, commandLine, type VmOp } from "../../../providers/vm/commands.ts";
import { VM_PROVIDERS, VM_PROVIDER_IDS } from "../../../providers/vm/index.ts";
import { parseTailscaleStatus } from "../../../providers/tailscale/status.ts";
import { ExecStub } from "../../support/exec-stub.ts";
import { BINS } from "./helpers.ts";
import { COLIMA, DOCKER_DESKTOP, LIMA, ORB, PODMAN, TAILSCALE } from "./fixtures.ts";

const args = { name: "devx", resources: { cpus: 4, memoryMiB: 6144, diskGiB: 80 }, configPath: "/s/vm/devx/cfg", command: ["uname", "-a"] };

describe("the command table", () => {
  // the whole table, written out: a changed flag or unit shows up here
  const expected: Record<string, Partial<Record<VmOp, string>>> = {
    podman: {
      version: "podman --version",
      status: "podman machine inspect devx",
      create: "podman machine init --cpus 4 --memory 6144 --disk-size 80 --ignition-path /s/vm/devx/cfg devx",
      start: "podman machine start devx",
      stop: "podman machine stop devx",
      remove: "podman machine rm --force devx",
      exec: "podman machine ssh devx uname -a",
      shell: "podman machine ssh devx",
      sleep: "podman machine stop devx",
      resize: "podman machine set --cpus 4 --memory 6144 --disk-size 80 devx",
    },
    lima: {
      version: "limactl --version",
      status: "limactl list --json",
      create: "limactl create --tty=false --name=devx /s/vm/devx/cfg",
      start: "limactl start --tty=false devx",
      stop: "limactl stop devx",
      remove: "limactl delete --force devx",
      exec: "limactl shell devx uname -a",
      shell: "limactl shell devx",
      sleep: "limactl stop devx",
      resize: "limactl edit --tty=false --cpus 4 --memory 6 --disk 80 devx",
    },
    colima: {
      version: "colima version",
      status: "colima list --json",
      create: "colima start --profile devx --cpu 4 --memory 6 --disk 80 --runtime docker",
      start: "colima start --profile devx",
      stop: "colima stop --profile devx",
      remove: "colima delete --profile devx --force",
      exec: "colima ssh --profile devx -- uname -a",
      shell: "colima ssh --profile devx",
      sleep: "colima stop --profile devx",
      resize: "colima start --profile devx --cpu 4 --memory 6 --disk 80",
    },
    "docker-desktop": {
      version: "docker version --format json",
      status: "docker info --format json",
      start: "docker desktop start",
      stop: "docker desktop stop",
    },
    orbstack: {
      version: "orb version",
      status: "orb list --format json",
      create: "orb create --user-data /s/vm/devx/cfg ubuntu:noble devx",
      start: "orb start devx",
      stop: "orb stop devx",
      remove: "orb delete --force devx",
      exec: "orb -m devx uname -a",
      shell: "orb -m devx",
      sleep: "orb stop devx",
    },
  };

  for (const id of VM_PROVIDER_IDS) {
    test(`${id}: every operation's command line`, () => {
      const got = Object.fromEntries(Object.keys(COMMANDS[id]).map((op) => [op, commandLine(id, op as VmOp, args)!.join(" ")]));
      expect(got).toEqual(expected[id]!);
    });
  }

  test("a missing operation matches a feature reported as unsupported, with a reason", () => {
    for (const id of VM_PROVIDER_IDS) {
      const p = VM_PROVIDERS[id];
      const has = (op: VmOp) => COMMANDS[id][op] !== undefined;
      expect(has("create")).toBe(p.features.create.supported);
      expect(has("resize")).toBe(p.features.resize.supported);
      expect(has("sleep")).toBe(p.features.sleep.supported);
      expect(has("exec")).toBe(p.features.exec.supported);
      for (const f of Object.values(p.features)) if (!f.supported) expect(f.reason?.length).toBeGreaterThan(10);
    }
    expect(VM_PROVIDERS["docker-desktop"].features.inVmUnits.supported).toBe(false);
    expect(VM_PROVIDERS.orbstack.features.resize.reason).toContain("OrbStack manages its own VM");
  });
});

describe("detection by binary and version", () => {
  test("each provider's version output", async () => {
    const stub = new ExecStub(
      [
        { argv: ["podman", "--version"], stdout: PODMAN.version },
        { argv: ["limactl", "--version"], stdout: LIMA.version },
        { argv: ["colima", "version"], stdout: COLIMA.version },
        { argv: ["docker", "version", "--format", "json"], stdout: DOCKER_DESKTOP.version },
        { argv: ["orb", "version"], stdout: ORB.version },
      ],
      BINS,
    );
    const found = await Promise.all(VM_PROVIDER_IDS.map((id) => VM_PROVIDERS[id].detect(stub)));
    expect(found.map((d) => [d?.id, d?.version, d?.usable])).toEqual([
      ["podman", "5.2.3", true],
      ["lima", "1.0.3", true],
      ["colima", "0.8.1", true],
      ["docker-desktop", "4.37.1", true],
      ["orbstack", "1.9.2", true],
    ]);
    stub.verify();
  });

  test("an old podman is found but not usable, with the reason", async () => {
    const stub = new ExecStub([{ argv: ["podman", "--version"], stdout: PODMAN.versionOld }], BINS);
    const d = await VM_PROVIDERS.podman.detect(stub);
    expect(d).toEqual({ id: "podman", version: "4.3.1", usable: false, reason: "podman 4.3.1 is too old for `podman machine` (devx needs 4.6.0 or newer)" });
    stub.verify();
  });

  test("a docker CLI talking to another engine is not Docker Desktop; an absent binary is not asked", async () => {
    const stub = new ExecStub([{ argv: ["docker", "version", "--format", "json"], stdout: DOCKER_DESKTOP.versionPodman }], { docker: "/usr/bin/docker" });
    expect(await VM_PROVIDERS["docker-desktop"].detect(stub)).toBeUndefined();
    expect(await VM_PROVIDERS.lima.detect(stub)).toBeUndefined();
    stub.verify();
  });
});

describe("status from each CLI's output", () => {
  test("podman machine inspect: running, and the error of a missing machine", async () => {
    const stub = new ExecStub([
      { argv: ["podman", "machine", "inspect", "devx"], stdout: PODMAN.inspectRunning },
      { argv: ["podman", "machine", "inspect", "devx"], stderr: PODMAN.inspectMissingStderr, code: PODMAN.inspectMissingCode },
      { argv: ["podman", "machine", "inspect", "devx"], stderr: "Error: cannot connect to the machine provider\n", code: 125 },
    ]);
    expect(await VM_PROVIDERS.podman.status(stub, "devx")).toEqual({ name: "devx", provider: "podman", state: "running", cpus: 4, memoryMiB: 4096, diskGiB: 60, vmType: "applehv" });
    expect((await VM_PROVIDERS.podman.status(stub, "devx")).state).toBe("missing");
    await expect(VM_PROVIDERS.podman.status(stub, "devx")).rejects.toThrow("cannot connect to the machine provider");
    stub.verify();
  });

  test("limactl, colima, orb lists pick the VM by name; absent means missing", async () => {
    const stub = new ExecStub([
      { argv: ["limactl", "list", "--json"], stdout: LIMA.list, times: 2 },
      { argv: ["limactl", "list", "--json"], stdout: "", stderr: LIMA.listEmptyStderr },
      { argv: ["colima", "list", "--json"], stdout: COLIMA.list, times: 2 },
      { argv: ["orb", "list", "--format", "json"], stdout: ORB.list, times: 2 },
    ]);
    expect(await VM_PROVIDERS.lima.status(stub, "devx")).toEqual({ name: "devx", provider: "lima", state: "running", cpus: 4, memoryMiB: 8192, diskGiB: 60, vmType: "vz" });
    expect((await VM_PROVIDERS.lima.status(stub, "default")).state).toBe("stopped");
    expect((await VM_PROVIDERS.lima.status(stub, "devx")).state).toBe("missing");
    expect(await VM_PROVIDERS.colima.status(stub, "devx")).toEqual({ name: "devx", provider: "colima", state: "running", cpus: 4, memoryMiB: 8192, diskGiB: 60, vmType: "docker" });
    expect((await VM_PROVIDERS.colima.status(stub, "other")).state).toBe("missing");
    expect(await VM_PROVIDERS.orbstack.status(stub, "devx")).toEqual({ name: "devx", provider: "orbstack", state: "running", vmType: "ubuntu:noble" });
    expect((await VM_PROVIDERS.orbstack.status(stub, "scratch")).state).toBe("stopped");
    stub.verify();
  });

  test("docker info: Docker Desktop running vs not reachable", async () => {
    const stub = new ExecStub([
      { argv: ["docker", "info", "--format", "json"], stdout: DOCKER_DESKTOP.info },
      { argv: ["docker", "info", "--format", "json"], stdout: DOCKER_DESKTOP.infoStopped, code: 1 },
    ]);
    expect(await VM_PROVIDERS["docker-desktop"].status(stub, "devx")).toEqual({ name: "devx", provider: "docker-desktop", state: "running", cpus: 8, memoryMiB: 7837, vmType: "docker-desktop" });
    expect((await VM_PROVIDERS["docker-desktop"].status(stub, "devx")).state).toBe("stopped");
    stub.verify();
  });

  test("tailscale status --json", () => {
    expect(parseTailscaleStatus(TAILSCALE.status)).toEqual({ state: "Running", ipv4: "100.101.102.103", ipv6: "fd7a:115c:a1e0::6a01:6667", dnsName: "devx.tail1a2b3.ts.net", tailnet: "dev@example.com", online: true, version: "1.76.6-t2fb3b8a9e-g5d0c1c7e4", health: undefined });
    expect(parseTailscaleStatus(TAILSCALE.needsLogin)).toMatchObject({ state: "NeedsLogin", ipv4: undefined, health: ["not logged in"] });
  });
});
