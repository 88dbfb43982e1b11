import { NotFoundError, ProviderError, UsageError } from "../../errors.ts";
import type { CoreDeps } from "../deps.ts";
import type { DevxConfig, VmConfig } from "../../config/schema.ts";
import { parseSizeMiB } from "../../config/duration.ts";
import { resolveVmName, resolveVmProvider } from "../../config/settings.ts";
import { VM_PROVIDERS, VM_PROVIDER_IDS, type Detected, type VmProvider, type VmProviderId, type VmResources } from "../../../providers/vm/index.ts";

/** What every vm command works on: which provider, which VM, with which settings. */
export interface VmContext {
  provider: VmProvider;
  detected: Detected;
  /** where the provider choice came from (flag, env, user, project, auto) */
  providerFrom: string;
  name: string;
  vm: VmConfig;
  project?: DevxConfig;
  resources: VmResources;
  /** from the request: plan only */
  dryRun: boolean;
}

export interface VmFlags {
  provider?: string;
  name?: string;
  /** plan only: nothing is changed (the request's own flag, not a CLI switch read here) */
  dryRun?: boolean;
}

export const DEFAULT_RESOURCES: VmResources = { cpus: 2, memoryMiB: 4096, diskGiB: 60 };

export function resourcesOf(vm: VmConfig): VmResources {
  return {
    cpus: vm.cpus ?? DEFAULT_RESOURCES.cpus,
    memoryMiB: vm.memory !== undefined ? (parseSizeMiB(vm.memory) ?? DEFAULT_RESOURCES.memoryMiB) : DEFAULT_RESOURCES.memoryMiB,
    diskGiB: vm.disk !== undefined ? Math.ceil((parseSizeMiB(vm.disk) ?? DEFAULT_RESOURCES.diskGiB * 1024) / 1024) : DEFAULT_RESOURCES.diskGiB,
  };
}

/** Every installed VM provider with its version (only binaries on PATH are asked). */
export async function detectProviders(deps: Pick<CoreDeps, "exec">): Promise<Detected[]> {
  const found = await Promise.all(VM_PROVIDER_IDS.map((id) => VM_PROVIDERS[id].detect(deps.exec)));
  return found.filter((d): d is Detected => d !== undefined);
}

export interface ResolveOptions {
  /**
   * Printing a configuration or a plan (`vm ignition`, `vm init --dry-run`) works anywhere: a chosen
   * provider that is missing or too old is reported as a warning, and with none usable podman
   * machine's configuration is shown. `detected.usable` is then false and nothing may be run.
   */
  planOnly?: boolean;
}

export async function resolveVmContext(deps: CoreDeps, flags: VmFlags, opts: ResolveOptions = {}): Promise<VmContext> {
  const loaded = await deps.findConfig();
  const project = loaded?.config;
  const user = await deps.userConfig();
  const sources = { flags: flags as Record<string, unknown>, env: deps.env, project, user };
  const name = resolveVmName(sources).value;
  const choice = resolveVmProvider(sources);
  const vm = project?.vm ?? {};
  const resources = resourcesOf(vm);
  const planOnly = (provider: VmProvider, detected: Detected, from: string, warning: string): VmContext => {
    deps.emit({ type: "warning", message: warning, hint: `the plan below is for ${provider.displayName}; it cannot run here until that is fixed` });
    return { provider, detected, providerFrom: from, name, vm, project, resources, dryRun: flags.dryRun === true };
  };

  if (choice.value !== "auto") {
    if (!(VM_PROVIDER_IDS as readonly string[]).includes(choice.value)) {
      throw new UsageError(`"${choice.value}" is not a VM provider`, `use one of ${VM_PROVIDER_IDS.join(", ")}`);
    }
    const provider = VM_PROVIDERS[choice.value as VmProviderId];
    const detected = await provider.detect(deps.exec);
    if (!detected) {
      const what = `${provider.displayName} (${provider.binary}) is not installed, but the ${choice.from} setting chooses it`;
      if (opts.planOnly) return planOnly(provider, { id: provider.id, version: "", usable: false, reason: "not installed" }, choice.from, what);
      throw new NotFoundError(what, `install ${provider.displayName}, or choose another with --provider`);
    }
    if (!detected.usable) {
      if (opts.planOnly) return planOnly(provider, detected, choice.from, `${provider.displayName} cannot be used: ${detected.reason}`);
      const upgrade = `upgrade ${provider.displayName}, or choose another with --provider`;
      throw new ProviderError(`${provider.displayName} cannot be used: ${detected.reason}`, process.platform === "linux" ? `${NO_VM_ON_LINUX}; ${upgrade}` : upgrade);
    }
    return { provider, detected, providerFrom: choice.from, name, vm, project, resources, dryRun: flags.dryRun === true };
  }

  const found = await detectProviders(deps);
  const usable = found.filter((d) => d.usable);
  if (usable.length === 0) {
    const e = noUsableProvider(found);
    if (opts.planOnly) return planOnly(VM_PROVIDERS.podman, found.find((d) => d.id === "podman") ?? { id: "podman", version: "", usable: false, reason: "not installed" }, "auto", e.message);
    throw e;
  }
  const picked = usable.length === 1 ? usable[0]! : await askProvider(deps, usable);
  return { provider: VM_PROVIDERS[picked.id], detected: picked, providerFrom: "auto", name, vm, project, resources, dryRun: flags.dryRun === true };
}

const NO_VM_ON_LINUX = "on Linux devx does not need a VM: `devx db`, `devx up` and `devx state` use the local container runtime (podman, docker or nerdctl) directly";

/**
 * Why no VM can be had, naming the provider that is installed but unusable (podman 4.3 has no
 * usable `podman machine`) rather than claiming none was found. On Linux no VM is needed: devx
 * drives the local container runtime directly.
 */
export function noUsableProvider(found: Detected[], platform: string = process.platform): ProviderError | NotFoundError {
  const linux = platform === "linux";
  const local = NO_VM_ON_LINUX;
  if (found.length) {
    const why = found.map((d) => `${VM_PROVIDERS[d.id].displayName} ${d.version}: ${d.reason ?? "not usable"}`).join("; ");
    const upgrade = `upgrade ${found.map((d) => VM_PROVIDERS[d.id].displayName).join(" or ")} to get a VM`;
    return new ProviderError(`no usable VM provider (${why})`, linux ? `${local}; ${upgrade}` : `${upgrade}, then run \`devx doctor\``);
  }
  return new NotFoundError("no VM provider found (podman, limactl, colima, Docker Desktop or orb)", linux ? `${local}; for a VM install one, e.g. Podman 4.6+ (https://podman.io)` : "install one, e.g. Podman (https://podman.io), then run `devx doctor`");
}

async function askProvider(deps: CoreDeps, found: Detected[]): Promise<Detected> {
  const names = found.map((d) => `${d.id} ${d.version}`).join(", ");
  if (!deps.interactive) {
    throw new UsageError(`several VM providers are installed (${names}) and none is chosen`, `pass --provider ${found.map((d) => d.id).join("|")}, or set vm.provider in devx.yaml or provider in your user config`);
  }
  const menu = found.map((d, i) => `  ${i + 1}) ${VM_PROVIDERS[d.id].displayName} ${d.version}`).join("\n");
  const answer = await deps.ask(`Several VM providers are installed:\n${menu}\nWhich one should devx use? [1-${found.length}] `);
  const n = Number.parseInt(answer?.trim() ?? "", 10);
  const picked = found[n - 1];
  if (!picked) throw new UsageError(`"${answer ?? ""}" is not one of 1-${found.length}`, "run again and pick a number, or pass --provider");
  return picked;
}
