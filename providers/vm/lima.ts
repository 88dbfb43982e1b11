import type { Exec } from "../../src/platform/exec.ts";
import { ProviderError } from "../../src/errors.ts";
import { commandLine } from "./commands.ts";
import { versionCheck, type VmInfo, type VmProvider, type VmState } from "./types.ts";

/** One line of `limactl list --json` (NDJSON, lima 1.0.x): memory and disk in bytes. */
interface LimaInstance {
  name: string;
  status: string;
  vmType?: string;
  cpus?: number;
  memory?: number;
  disk?: number;
}

export function parseLimaVersion(stdout: string): string | undefined {
  return /limactl version (\S+)/.exec(stdout)?.[1];
}

export function parseLimaList(name: string, stdout: string): VmInfo {
  const lines = stdout.split("\n").filter((l) => l.trim());
  const m = lines.map((l) => JSON.parse(l) as LimaInstance).find((x) => x.name === name);
  if (!m) return { name, provider: "lima", state: "missing" };
  const state: VmState = m.status === "Running" ? "running" : m.status === "Stopped" ? "stopped" : "unknown";
  return { name, provider: "lima", state, cpus: m.cpus, memoryMiB: m.memory && m.memory / 2 ** 20, diskGiB: m.disk && m.disk / 2 ** 30, vmType: m.vmType };
}

export const limaProvider: VmProvider = {
  id: "lima",
  displayName: "Lima",
  binary: "limactl",
  nativeConfig: "lima-yaml",
  vmContainerCli: "podman",
  // the guest user mirrors the host user name
  vmUser: (env) => env.USER || "user",
  features: {
    inVmUnits: { supported: true },
    create: { supported: true },
    resize: { supported: true },
    sleep: { supported: true, reason: "Lima cannot suspend: sleep stops the VM (disk and configuration are kept)" },
    exec: { supported: true },
  },
  runtime: (name) => ({ kind: "nerdctl", endpoint: `limactl shell ${name} nerdctl` }),
  async detect(exec: Exec) {
    if (!exec.which("limactl")) return undefined;
    const r = await exec.run(commandLine("lima", "version", { name: "" })!);
    const version = parseLimaVersion(r.stdout);
    if (r.code !== 0 || !version) return { id: "lima", version: "unknown", usable: false, reason: `\`limactl --version\` failed: ${r.stderr.trim()}` };
    return versionCheck("lima", version, "0.20.0", "limactl");
  },
  async status(exec, name) {
    const r = await exec.run(commandLine("lima", "status", { name })!);
    if (r.code !== 0) throw new ProviderError(`\`limactl list --json\` failed (exit ${r.code}): ${r.stderr.trim()}`, "run `limactl list` to check Lima");
    return parseLimaList(name, r.stdout);
  },
  configPath: (name, stateDir) => `${stateDir}/vm/${name}/lima.yaml`,
};
