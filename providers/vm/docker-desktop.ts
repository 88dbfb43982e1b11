import type { Exec } from "../../src/platform/exec.ts";
import { commandLine } from "./commands.ts";
import { versionCheck, type VmInfo, type VmProvider } from "./types.ts";

/** `docker version --format json`: Docker Desktop names itself in Server.Platform.Name. */
interface DockerVersion {
  Client?: { Version?: string; Context?: string };
  Server?: { Platform?: { Name?: string }; Version?: string } | null;
}

/** `docker info --format json` (Docker Desktop 4.3x): ServerErrors when the VM is not running. */
interface DockerInfo {
  NCPU?: number;
  MemTotal?: number;
  OperatingSystem?: string;
  ServerErrors?: string[];
  Name?: string;
}

export function parseDockerDesktopVersion(stdout: string): { desktop: boolean; version?: string; running: boolean } {
  let v: DockerVersion;
  try {
    v = JSON.parse(stdout) as DockerVersion;
  } catch {
    return { desktop: false, running: false };
  }
  const platform = v.Server?.Platform?.Name ?? "";
  const m = /^Docker Desktop (\S+)/.exec(platform);
  if (m) return { desktop: true, version: m[1], running: true };
  // not running: only the client answers; Docker Desktop's client context is desktop-linux
  if (!v.Server && v.Client?.Context === "desktop-linux") return { desktop: true, running: false };
  return { desktop: false, running: !!v.Server };
}

export function parseDockerInfo(name: string, stdout: string): VmInfo {
  let info: DockerInfo;
  try {
    info = JSON.parse(stdout) as DockerInfo;
  } catch {
    return { name, provider: "docker-desktop", state: "stopped" };
  }
  if (info.ServerErrors?.length || info.OperatingSystem !== "Docker Desktop") return { name, provider: "docker-desktop", state: "stopped" };
  return { name, provider: "docker-desktop", state: "running", cpus: info.NCPU, memoryMiB: info.MemTotal && Math.round(info.MemTotal / 2 ** 20), vmType: "docker-desktop" };
}

const NO_SYSTEMD = "Docker Desktop's VM has no systemd: cloudflared and tailscaled cannot run as units inside it";

export const dockerDesktopProvider: VmProvider = {
  id: "docker-desktop",
  displayName: "Docker Desktop",
  binary: "docker",
  vmUser: () => "root",
  features: {
    inVmUnits: { supported: false, reason: NO_SYSTEMD },
    create: { supported: false, reason: "Docker Desktop creates and owns its single VM; devx can only start and stop it" },
    resize: { supported: false, reason: "set CPUs, memory and disk in Docker Desktop → Settings → Resources" },
    sleep: { supported: false, reason: "Docker Desktop's Resource Saver pauses the VM by itself when idle" },
    exec: { supported: false, reason: "Docker Desktop offers no shell into its VM" },
  },
  runtime: () => ({ kind: "docker", endpoint: "docker --context desktop-linux" }),
  async detect(exec: Exec) {
    if (!exec.which("docker")) return undefined;
    const r = await exec.run(commandLine("docker-desktop", "version", { name: "" })!);
    const v = parseDockerDesktopVersion(r.stdout);
    if (!v.desktop) return undefined;
    if (!v.version) return { id: "docker-desktop", version: "unknown", usable: true, reason: "Docker Desktop is not running; its version shows once it is" };
    return versionCheck("docker-desktop", v.version, "4.37.0", "Docker Desktop");
  },
  async status(exec, name) {
    const r = await exec.run(commandLine("docker-desktop", "status", { name })!);
    return parseDockerInfo(name, r.stdout);
  },
};
