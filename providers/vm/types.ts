/**
 * VM providers (podman machine, Lima, Colima, Docker Desktop, OrbStack) behind small capability
 * interfaces. Code asks what a provider can do (`provider.resizer`, `features.inVmUnits`), never
 * its name. Command lines live in one table (commands.ts); adapters only parse what the CLIs print.
 */
import type { Exec } from "../../src/platform/exec.ts";

export const VM_PROVIDER_IDS = ["podman", "lima", "colima", "docker-desktop", "orbstack"] as const;
export type VmProviderId = (typeof VM_PROVIDER_IDS)[number];

export type VmState = "running" | "stopped" | "starting" | "missing" | "unknown";

export interface VmInfo {
  name: string;
  provider: VmProviderId;
  state: VmState;
  cpus?: number;
  memoryMiB?: number;
  diskGiB?: number;
  /** the provider's own words for the VM type / driver (qemu, vz, applehv…) */
  vmType?: string;
}

export interface Detected {
  id: VmProviderId;
  version: string;
  /** false when installed but too old or not usable; `reason` says why */
  usable: boolean;
  reason?: string;
}

export interface VmResources {
  cpus: number;
  memoryMiB: number;
  diskGiB: number;
}

/** The arguments a command line in the table may use. */
export interface OpArgs {
  name: string;
  resources: VmResources;
  /** where the native machine configuration file (ignition, lima.yaml, user-data…) is written */
  configPath: string;
  /** a command to run inside the VM */
  command: string[];
}

/** How the one machine declaration reaches this provider at creation. */
export type NativeConfigKind = "ignition" | "lima-yaml" | "colima-yaml" | "cloud-init";

/** A feature devx wants, and whether/why this provider can (not) do it. */
export interface FeatureSupport {
  supported: boolean;
  reason?: string;
}

export interface ProviderFeatures {
  /** systemd units inside the VM (cloudflared, tailscaled) */
  inVmUnits: FeatureSupport;
  /** devx creates and deletes the VM itself */
  create: FeatureSupport;
  resize: FeatureSupport;
  sleep: FeatureSupport;
  /** running commands in the VM (ssh or an exec door) */
  exec: FeatureSupport;
}

/** The container runtime the VM exposes to the host. */
export interface ExposedRuntime {
  kind: "podman" | "docker" | "nerdctl";
  /** how the host reaches it (a connection, context or wrapper) */
  endpoint: string;
}

export interface VmProvider {
  readonly id: VmProviderId;
  readonly displayName: string;
  readonly binary: string;
  readonly features: ProviderFeatures;
  readonly nativeConfig?: NativeConfigKind;
  /** the create command also boots the VM (colima start, orb create) */
  readonly createStarts?: boolean;
  /** the CLI used inside the VM to run the cloudflared/tailscaled containers */
  readonly vmContainerCli?: "podman" | "docker";
  /** the login user inside the VM that gets the ssh key */
  vmUser(env: Record<string, string | undefined>): string;
  runtime(name: string): ExposedRuntime;
  /** installed, which version, usable? undefined when the binary is absent */
  detect(exec: Exec): Promise<Detected | undefined>;
  /** current state of the named VM ("missing" when it does not exist) */
  status(exec: Exec, name: string): Promise<VmInfo>;
  /** where the native config file goes (colima reads it from its profile dir) */
  configPath?(name: string, stateDir: string, env: Record<string, string | undefined>): string;
}

/** Compare dotted versions: negative when a < b. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+-]/).map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(/[.+-]/).map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function versionCheck(id: VmProviderId, version: string, min: string, what: string): Detected {
  const usable = compareVersions(version, min) >= 0;
  return usable ? { id, version, usable } : { id, version, usable, reason: `${what} ${version} is older than ${min}, the oldest devx supports` };
}
