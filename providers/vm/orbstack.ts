import type { Exec } from "../../src/platform/exec.ts";
import { ProviderError } from "../../src/errors.ts";
import { commandLine } from "./commands.ts";
import { versionCheck, type VmInfo, type VmProvider, type VmState } from "./types.ts";

/** `orb list --format json` (OrbStack 1.x): machines, not VMs; OrbStack owns the one VM. */
interface OrbMachine {
  id: string;
  name: string;
  state: string;
  image?: { distro?: string; version?: string; arch?: string };
}

export function parseOrbVersion(stdout: string): string | undefined {
  return /Version:\s*(\S+)/.exec(stdout)?.[1];
}

export function parseOrbList(name: string, stdout: string): VmInfo {
  const list = (JSON.parse(stdout || "[]") ?? []) as OrbMachine[];
  const m = list.find((x) => x.name === name);
  if (!m) return { name, provider: "orbstack", state: "missing" };
  const state: VmState = m.state === "running" ? "running" : m.state === "stopped" ? "stopped" : m.state === "starting" ? "starting" : "unknown";
  return { name, provider: "orbstack", state, vmType: m.image ? `${m.image.distro}:${m.image.version}` : undefined };
}

export const orbstackProvider: VmProvider = {
  id: "orbstack",
  displayName: "OrbStack",
  binary: "orb",
  createStarts: true,
  nativeConfig: "cloud-init",
  vmContainerCli: "podman",
  // the guest user mirrors the host user name
  vmUser: (env) => env.USER || "user",
  features: {
    inVmUnits: { supported: true },
    create: { supported: true },
    resize: { supported: false, reason: "OrbStack manages its own VM: set CPU and memory limits in OrbStack's settings (`orb config`)" },
    sleep: { supported: true, reason: "OrbStack machines cannot suspend: sleep stops the machine" },
    exec: { supported: true },
  },
  runtime: () => ({ kind: "docker", endpoint: "docker --context orbstack" }),
  async detect(exec: Exec) {
    if (!exec.which("orb")) return undefined;
    const r = await exec.run(commandLine("orbstack", "version", { name: "" })!);
    const version = parseOrbVersion(r.stdout);
    if (r.code !== 0 || !version) return { id: "orbstack", version: "unknown", usable: false, reason: `\`orb version\` failed: ${r.stderr.trim()}` };
    return versionCheck("orbstack", version, "1.4.0", "OrbStack");
  },
  async status(exec, name) {
    const r = await exec.run(commandLine("orbstack", "status", { name })!);
    if (r.code !== 0) throw new ProviderError(`\`orb list\` failed (exit ${r.code}): ${r.stderr.trim()}`, "start OrbStack (`orb start`), then retry");
    return parseOrbList(name, r.stdout);
  },
  configPath: (name, stateDir) => `${stateDir}/vm/${name}/user-data`,
};
