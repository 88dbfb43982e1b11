import type { OpArgs, VmProviderId } from "./types.ts";

/**
 * THE table of command lines: one entry per provider and operation. Plans (src/core/vm) are built
 * from these and a dry run prints exactly what a real run executes. An operation a provider lacks
 * has no entry; its absence is what `features` reports.
 *
 * Units follow each CLI: podman machine takes MiB memory and GiB disk; limactl/colima take GiB.
 */
export type VmOp = "version" | "status" | "create" | "start" | "stop" | "remove" | "exec" | "shell" | "sleep" | "resize";

type Line = (a: OpArgs) => string[];

const gib = (mib: number) => String(Math.round((mib / 1024) * 100) / 100);

export const COMMANDS: Record<VmProviderId, Partial<Record<VmOp, Line>>> = {
  // podman 4.6+/5.x (`podman machine`, Fedora CoreOS guest)
  podman: {
    version: () => ["podman", "--version"],
    status: (a) => ["podman", "machine", "inspect", a.name],
    create: (a) => ["podman", "machine", "init", "--cpus", String(a.resources.cpus), "--memory", String(a.resources.memoryMiB), "--disk-size", String(a.resources.diskGiB), "--ignition-path", a.configPath, a.name],
    start: (a) => ["podman", "machine", "start", a.name],
    stop: (a) => ["podman", "machine", "stop", a.name],
    remove: (a) => ["podman", "machine", "rm", "--force", a.name],
    exec: (a) => ["podman", "machine", "ssh", a.name, ...a.command],
    shell: (a) => ["podman", "machine", "ssh", a.name],
    // podman machine cannot suspend: sleeping frees CPU and memory by stopping, disk and config stay
    sleep: (a) => ["podman", "machine", "stop", a.name],
    // needs a stopped machine; the disk can only grow
    resize: (a) => ["podman", "machine", "set", "--cpus", String(a.resources.cpus), "--memory", String(a.resources.memoryMiB), "--disk-size", String(a.resources.diskGiB), a.name],
  },
  // limactl 1.0.x
  lima: {
    version: () => ["limactl", "--version"],
    status: () => ["limactl", "list", "--json"],
    create: (a) => ["limactl", "create", "--tty=false", `--name=${a.name}`, a.configPath],
    start: (a) => ["limactl", "start", "--tty=false", a.name],
    stop: (a) => ["limactl", "stop", a.name],
    remove: (a) => ["limactl", "delete", "--force", a.name],
    exec: (a) => ["limactl", "shell", a.name, ...a.command],
    shell: (a) => ["limactl", "shell", a.name],
    sleep: (a) => ["limactl", "stop", a.name],
    resize: (a) => ["limactl", "edit", "--tty=false", "--cpus", String(a.resources.cpus), "--memory", gib(a.resources.memoryMiB), "--disk", String(a.resources.diskGiB), a.name],
  },
  // colima 0.8.x (docker runtime); the profile is the VM name
  colima: {
    version: () => ["colima", "version"],
    status: () => ["colima", "list", "--json"],
    // colima creates on first start, reading $COLIMA_HOME/<profile>/colima.yaml (provision scripts)
    create: (a) => ["colima", "start", "--profile", a.name, "--cpu", String(a.resources.cpus), "--memory", gib(a.resources.memoryMiB), "--disk", String(a.resources.diskGiB), "--runtime", "docker"],
    start: (a) => ["colima", "start", "--profile", a.name],
    stop: (a) => ["colima", "stop", "--profile", a.name],
    remove: (a) => ["colima", "delete", "--profile", a.name, "--force"],
    exec: (a) => ["colima", "ssh", "--profile", a.name, "--", ...a.command],
    shell: (a) => ["colima", "ssh", "--profile", a.name],
    sleep: (a) => ["colima", "stop", "--profile", a.name],
    // colima applies new resources on start; the plan stops first and stops again if it was stopped
    resize: (a) => ["colima", "start", "--profile", a.name, "--cpu", String(a.resources.cpus), "--memory", gib(a.resources.memoryMiB), "--disk", String(a.resources.diskGiB)],
  },
  // Docker Desktop 4.37+ (`docker desktop` CLI plugin); one VM Docker Desktop owns
  "docker-desktop": {
    version: () => ["docker", "version", "--format", "json"],
    status: () => ["docker", "info", "--format", "json"],
    start: () => ["docker", "desktop", "start"],
    stop: () => ["docker", "desktop", "stop"],
  },
  // OrbStack 1.x machines (`orb`); OrbStack owns the VM they run in
  orbstack: {
    version: () => ["orb", "version"],
    status: () => ["orb", "list", "--format", "json"],
    create: (a) => ["orb", "create", "--user-data", a.configPath, "ubuntu:noble", a.name],
    start: (a) => ["orb", "start", a.name],
    stop: (a) => ["orb", "stop", a.name],
    remove: (a) => ["orb", "delete", "--force", a.name],
    exec: (a) => ["orb", "-m", a.name, ...a.command],
    shell: (a) => ["orb", "-m", a.name],
    sleep: (a) => ["orb", "stop", a.name],
  },
};

/** The command line for an operation, or undefined when the provider lacks it. */
export function commandLine(provider: VmProviderId, op: VmOp, args: Partial<OpArgs> & { name: string }): string[] | undefined {
  const line = COMMANDS[provider][op];
  if (!line) return undefined;
  return line({ resources: { cpus: 0, memoryMiB: 0, diskGiB: 0 }, configPath: "", command: [], ...args });
}
