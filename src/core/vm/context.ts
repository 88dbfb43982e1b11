import { NotFoundError, ProviderError, UsageError } from "../../errors.ts";
import type { Deps } from "../../cli/deps.ts";
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
}

export interface VmFlags {
  provider?: string;
  name?: string;
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
export async function detectProviders(deps: Pick<Deps, "exec">): Promise<Detected[]> {
  const found = await Promise.all(VM_PROVIDER_IDS.map((id) => VM_PROVIDERS[id].detect(deps.exec)));
  return found.filter((d): d is Detected => d !== undefined);
}

export async function resolveVmContext(deps: Deps, flags: VmFlags): Promise<VmContext> {
  const loaded = await deps.findConfig();
  const project = loaded?.config;
  const user = await deps.userConfig();
  const sources = { flags: flags as Record<string, unknown>, env: deps.env, project, user };
  const name = resolveVmName(sources).value;
  const choice = resolveVmProvider(sources);
  const vm = project?.vm ?? {};
  const resources = resourcesOf(vm);

  if (choice.value !== "auto") {
    if (!(VM_PROVIDER_IDS as readonly string[]).includes(choice.value)) {
      throw new UsageError(`"${choice.value}" is not a VM provider`, `use one of ${VM_PROVIDER_IDS.join(", ")}`);
    }
    const provider = VM_PROVIDERS[choice.value as VmProviderId];
    const detected = await provider.detect(deps.exec);
    if (!detected) throw new NotFoundError(`${provider.displayName} (${provider.binary}) is not installed, but the ${choice.from} setting chooses it`, `install ${provider.displayName}, or choose another with --provider`);
    if (!detected.usable) throw new ProviderError(`${provider.displayName} cannot be used: ${detected.reason}`, `upgrade ${provider.displayName}, or choose another with --provider`);
    return { provider, detected, providerFrom: choice.from, name, vm, project, resources };
  }

  const usable = (await detectProviders(deps)).filter((d) => d.usable);
  if (usable.length === 0) {
    throw new NotFoundError("no VM provider found (podman, limactl, colima, Docker Desktop or orb)", "install one, e.g. Podman (https://podman.io), then run `devx doctor`");
  }
  const picked = usable.length === 1 ? usable[0]! : await askProvider(deps, usable);
  return { provider: VM_PROVIDERS[picked.id], detected: picked, providerFrom: "auto", name, vm, project, resources };
}

async function askProvider(deps: Deps, found: Detected[]): Promise<Detected> {
  const names = found.map((d) => `${d.id} ${d.version}`).join(", ");
  if (!deps.io.stdinIsTTY) {
    throw new UsageError(`several VM providers are installed (${names}) and none is chosen`, `pass --provider ${found.map((d) => d.id).join("|")}, or set vm.provider in devx.yaml or provider in your user config`);
  }
  const menu = found.map((d, i) => `  ${i + 1}) ${VM_PROVIDERS[d.id].displayName} ${d.version}`).join("\n");
  const answer = await deps.io.readLine(`Several VM providers are installed:\n${menu}\nWhich one should devx use? [1-${found.length}] `);
  const n = Number.parseInt(answer?.trim() ?? "", 10);
  const picked = found[n - 1];
  if (!picked) throw new UsageError(`"${answer ?? ""}" is not one of 1-${found.length}`, "run again and pick a number, or pass --provider");
  return picked;
}
