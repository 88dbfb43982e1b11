import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../errors.ts";
import type { Emit } from "../../events/types.ts";
import { renderMachine, type MachineInputs, type MachineSpec } from "../../../providers/vm/machine-config.ts";
import { toIgnition } from "../../../providers/vm/ignition.ts";
import { cloudInitUserData, colimaYaml, limaYaml } from "../../../providers/vm/native.ts";
import type { VmProvider, VmResources } from "../../../providers/vm/types.ts";
import type { VmContext } from "./vm-context.ts";
import { resolveSecret } from "./secrets.ts";

/** Settings and secrets of the machine declaration, resolved for one VM (secrets not yet filled). */
export interface MachinePlanInputs {
  inputs: MachineInputs;
  /** features the config asks for but the provider cannot do, reported per feature */
  unsupported: Array<{ feature: string; reason: string }>;
}

const KEY_FILES = [".ssh/id_ed25519.pub", ".ssh/id_ecdsa.pub", ".ssh/id_rsa.pub"];
// podman 5 keeps its machine key here; with a custom --ignition-path podman does not inject it,
// so devx adds it or `podman machine ssh` could not log in
const PODMAN_MACHINE_KEY = ".local/share/containers/podman/machine/machine.pub";

/** podman's own machine key (private half), which `podman machine ssh` logs in with */
export function podmanMachineKey(env: Record<string, string | undefined>): { path: string; exists: boolean } {
  const pub = join(env.HOME || homedir(), PODMAN_MACHINE_KEY);
  return { path: pub.replace(/\.pub$/, ""), exists: existsSync(pub) };
}

export function sshKeys(ctx: Pick<VmContext, "vm" | "provider">, env: Record<string, string | undefined>): string[] {
  const home = env.HOME || homedir();
  const read = (p: string) => readFileSync(p, "utf8").trim();
  const keys: string[] = [];
  const configured = ctx.vm.ssh_key;
  if (configured) {
    if (/^(ssh-|ecdsa-|sk-)/.test(configured)) keys.push(configured.trim());
    else {
      const path = configured.replace(/^~(?=\/)/, home);
      if (!existsSync(path)) throw new ConfigError(`vm.ssh_key: ${path} does not exist`, "give the path of a public key (…/id_ed25519.pub) or the key itself");
      keys.push(read(path));
    }
  } else {
    const found = KEY_FILES.map((f) => join(home, f)).find((p) => existsSync(p));
    if (found) keys.push(read(found));
  }
  if (ctx.provider.nativeConfig === "ignition") {
    const machineKey = join(home, PODMAN_MACHINE_KEY);
    if (existsSync(machineKey)) keys.push(read(machineKey));
  }
  return [...new Set(keys)];
}

export function machineInputs(ctx: VmContext, env: Record<string, string | undefined>, emit: Emit): MachinePlanInputs {
  const units = ctx.provider.features.inVmUnits;
  const wantsTunnel = !!ctx.vm.cloudflare?.account_id;
  const wantsTailscale = !!(ctx.vm.tailscale?.authkey || env.TS_AUTHKEY);
  const unsupported: MachinePlanInputs["unsupported"] = [];
  if (!units.supported) {
    if (wantsTunnel) unsupported.push({ feature: "cloudflared", reason: units.reason ?? "no systemd units in this VM" });
    if (wantsTailscale) unsupported.push({ feature: "tailscale", reason: units.reason ?? "no systemd units in this VM" });
  }
  const keys = units.supported || ctx.provider.nativeConfig ? sshKeys(ctx, env) : [];
  if (ctx.provider.nativeConfig && keys.length === 0) emit({ type: "warning", message: "no ssh public key found (~/.ssh/id_ed25519.pub, id_ecdsa.pub, id_rsa.pub)", hint: "set vm.ssh_key in devx.yaml, or create a key with ssh-keygen -t ed25519" });
  const inputs: MachineInputs = {
    user: ctx.provider.vmUser(env),
    sshKeys: keys,
    inotify: { maxUserWatches: ctx.vm.inotify?.max_user_watches ?? 524288, maxUserInstances: ctx.vm.inotify?.max_user_instances ?? 512 },
    features: { cloudflared: wantsTunnel && units.supported, tailscale: wantsTailscale && units.supported, podman_ready: ctx.provider.nativeConfig === "ignition" },
    containerCli: ctx.provider.vmContainerCli ?? "podman",
    tailscaleHostname: ctx.vm.tailscale?.hostname ?? ctx.name,
  };
  return { inputs, unsupported };
}

export async function tailscaleAuthkey(ctx: VmContext, env: Record<string, string | undefined>): Promise<string | undefined> {
  return (await resolveSecret(ctx.vm.tailscale?.authkey, env, "vm.tailscale.authkey")) ?? env.TS_AUTHKEY;
}

/** The provider's native configuration text for a rendered machine. */
export function nativeConfigText(provider: VmProvider, spec: MachineSpec, res: VmResources): string {
  switch (provider.nativeConfig) {
    case "ignition":
      return JSON.stringify(toIgnition(spec), null, 2) + "\n";
    case "lima-yaml":
      return limaYaml(spec, res, provider.vmContainerCli ?? "podman");
    case "colima-yaml":
      return colimaYaml(spec, res);
    case "cloud-init":
      return cloudInitUserData(spec, provider.vmContainerCli ?? "podman");
    default:
      throw new ConfigError(`${provider.displayName} takes no machine configuration`, "choose podman, lima, colima or orbstack for a configured VM");
  }
}

export function renderNative(provider: VmProvider, inputs: MachineInputs, res: VmResources, mask: boolean): string {
  return nativeConfigText(provider, renderMachine(inputs, { maskSecrets: mask }), res);
}
