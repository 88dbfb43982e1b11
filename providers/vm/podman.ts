import type { Exec } from "../../src/platform/exec.ts";
import { ProviderError } from "../../src/errors.ts";
import { commandLine } from "./commands.ts";
import { versionCheck, type VmInfo, type VmProvider, type VmState } from "./types.ts";

/** `podman machine inspect` (podman 5.x): Resources.Memory is MiB, Resources.DiskSize GiB. */
interface PodmanInspect {
  Name: string;
  State: string;
  Resources?: { CPUs?: number; Memory?: number; DiskSize?: number };
  SSHConfig?: { RemoteUsername?: string };
  ConfigDir?: { Path?: string };
}

export function parsePodmanVersion(stdout: string): string | undefined {
  return /podman(?:\.exe)? version (\S+)/.exec(stdout)?.[1];
}

export function parsePodmanInspect(name: string, stdout: string): VmInfo {
  const list = JSON.parse(stdout) as PodmanInspect[];
  const m = list.find((x) => x.Name === name) ?? list[0];
  if (!m) return { name, provider: "podman", state: "missing" };
  const state: VmState = m.State === "running" ? "running" : m.State === "stopped" ? "stopped" : m.State === "starting" ? "starting" : "unknown";
  const vmType = m.ConfigDir?.Path?.split("/").pop();
  return { name, provider: "podman", state, cpus: m.Resources?.CPUs, memoryMiB: m.Resources?.Memory, diskGiB: m.Resources?.DiskSize, vmType };
}

export const podmanProvider: VmProvider = {
  id: "podman",
  displayName: "Podman machine",
  binary: "podman",
  nativeConfig: "ignition",
  vmContainerCli: "podman",
  vmUser: () => "core",
  features: {
    inVmUnits: { supported: true },
    create: { supported: true },
    resize: { supported: true },
    sleep: { supported: true, reason: "podman machine cannot suspend: sleep stops the VM (disk and configuration are kept)" },
    exec: { supported: true },
  },
  runtime: (name) => ({ kind: "podman", endpoint: `podman --connection ${name}` }),
  async detect(exec: Exec) {
    if (!exec.which("podman")) return undefined;
    const r = await exec.run(commandLine("podman", "version", { name: "" })!);
    const version = parsePodmanVersion(r.stdout);
    if (r.code !== 0 || !version) return { id: "podman", version: "unknown", usable: false, reason: `\`podman --version\` failed: ${r.stderr.trim()}` };
    const d = versionCheck("podman", version, "4.6.0", "podman");
    // the runtime itself may be fine (doctor says so): it is `podman machine` that needs 4.6
    return d.usable ? d : { ...d, reason: `podman ${version} is too old for \`podman machine\` (devx needs 4.6.0 or newer)` };
  },
  async status(exec, name) {
    const r = await exec.run(commandLine("podman", "status", { name })!);
    if (r.code !== 0) {
      if (/does not exist/i.test(r.stderr)) return { name, provider: "podman", state: "missing" };
      throw new ProviderError(`\`podman machine inspect ${name}\` failed (exit ${r.code}): ${r.stderr.trim()}`, "run `podman machine list` to see the machines podman knows");
    }
    return parsePodmanInspect(name, r.stdout);
  },
  configPath: (name, stateDir) => `${stateDir}/vm/${name}/ignition.json`,
};
