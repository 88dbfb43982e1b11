import { join } from "node:path";
import type { Exec } from "../../src/platform/exec.ts";
import { ProviderError } from "../../src/errors.ts";
import { commandLine } from "./commands.ts";
import { versionCheck, type VmInfo, type VmProvider, type VmState } from "./types.ts";

/** One line of `colima list --json` (NDJSON, colima 0.8.x): memory and disk in bytes. */
interface ColimaProfile {
  name: string;
  status: string;
  cpus?: number;
  memory?: number;
  disk?: number;
  runtime?: string;
}

export function parseColimaVersion(stdout: string): string | undefined {
  return /colima version v?(\S+)/.exec(stdout)?.[1];
}

export function parseColimaList(name: string, stdout: string): VmInfo {
  const lines = stdout.split("\n").filter((l) => l.trim());
  const m = lines.map((l) => JSON.parse(l) as ColimaProfile).find((x) => x.name === name);
  if (!m) return { name, provider: "colima", state: "missing" };
  const state: VmState = m.status === "Running" ? "running" : m.status === "Stopped" ? "stopped" : "unknown";
  return { name, provider: "colima", state, cpus: m.cpus, memoryMiB: m.memory && m.memory / 2 ** 20, diskGiB: m.disk && m.disk / 2 ** 30, vmType: m.runtime };
}

export const colimaProvider: VmProvider = {
  id: "colima",
  displayName: "Colima",
  binary: "colima",
  createStarts: true,
  nativeConfig: "colima-yaml",
  vmContainerCli: "docker",
  // the guest user mirrors the host user name
  vmUser: (env) => env.USER || "user",
  features: {
    inVmUnits: { supported: true },
    create: { supported: true },
    resize: { supported: true },
    sleep: { supported: true, reason: "Colima cannot suspend: sleep stops the VM (disk and configuration are kept)" },
    exec: { supported: true },
  },
  runtime: (name) => ({ kind: "docker", endpoint: `docker --context colima-${name}` }),
  async detect(exec: Exec) {
    if (!exec.which("colima")) return undefined;
    const r = await exec.run(commandLine("colima", "version", { name: "" })!);
    const version = parseColimaVersion(r.stdout);
    if (r.code !== 0 || !version) return { id: "colima", version: "unknown", usable: false, reason: `\`colima version\` failed: ${r.stderr.trim()}` };
    return versionCheck("colima", version, "0.6.0", "colima");
  },
  async status(exec, name) {
    const r = await exec.run(commandLine("colima", "status", { name })!);
    if (r.code !== 0) throw new ProviderError(`\`colima list --json\` failed (exit ${r.code}): ${r.stderr.trim()}`, "run `colima list` to check Colima");
    return parseColimaList(name, r.stdout);
  },
  // colima reads a new profile's settings (and provision scripts) from its own profile directory
  configPath: (name, _stateDir, env) => join(env.COLIMA_HOME || join(env.HOME ?? "~", ".colima"), name, "colima.yaml"),
};
