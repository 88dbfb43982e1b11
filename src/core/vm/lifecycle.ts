import { dirname } from "node:path";
import { NotFoundError, ProviderError, UsageError } from "../../errors.ts";
import type { CoreDeps } from "../deps.ts";
import { commandLine, type VmOp } from "../../../providers/vm/commands.ts";
import type { VmInfo, VmResources } from "../../../providers/vm/types.ts";
import { parseTailscaleStatus, type TailnetStatus } from "../../../providers/tailscale/status.ts";
import { accountIdOf, apiToken, ensureVmTunnel, findVmTunnel, removeVmTunnel, tunnelNameFor, vmCloudflareSetup } from "../tunnel/setup.ts";
import { peekOwnerId } from "../tunnel/local-state.ts";
import { resolveVmContext, type VmContext, type VmFlags } from "./vm-context.ts";
import { machineInputs, podmanMachineKey, renderNative, sshKeys, tailscaleAuthkey } from "./machine.ts";
import { describe, executePlan, type PlanStep, type StepView } from "./plan.ts";

/**
 * VM use-cases. Each builds a plan (plan.ts) from the one command table and either returns it
 * (dry run) or runs it. Every command acts on the VM name from config (resolveVmName).
 */
export interface PlanResult {
  vm: string;
  provider: string;
  dryRun: boolean;
  /** nothing to do (e.g. init of an existing VM, start of a running one) */
  noop?: string;
  steps: StepView[];
  warnings: Array<{ feature: string; reason: string }>;
}

function line(ctx: VmContext, op: VmOp, extra: { resources?: VmResources; configPath?: string; command?: string[] } = {}): string[] {
  const argv = commandLine(ctx.provider.id, op, { name: ctx.name, ...extra });
  if (!argv) throw new ProviderError(`${ctx.provider.displayName} cannot ${op} a VM`, "see `devx vm status` for what this provider supports");
  return argv;
}

async function run(ctx: VmContext, deps: CoreDeps, steps: PlanStep[], warnings: PlanResult["warnings"] = [], noop?: string): Promise<PlanResult> {
  const result: PlanResult = { vm: ctx.name, provider: ctx.provider.id, dryRun: ctx.dryRun, noop, steps: steps.map(describe), warnings };
  if (!ctx.dryRun && !noop) await executePlan(steps, deps, `run \`devx vm status\`, or retry with --debug`);
  return result;
}

function requireExisting(ctx: VmContext, info: VmInfo): void {
  if (info.state === "missing") throw new NotFoundError(`no VM named ${ctx.name} in ${ctx.provider.displayName}`, "create it with `devx vm init`");
}

export interface InitOptions extends VmFlags {
  recreate?: boolean;
}

export async function vmInit(deps: CoreDeps, opts: InitOptions): Promise<PlanResult & { existing?: VmInfo }> {
  const ctx = await resolveVmContext(deps, opts, { planOnly: opts.dryRun === true });
  // a dry run without a usable provider plans the creation of a new VM (resolveVmContext warned)
  const info: VmInfo = ctx.detected.usable ? await ctx.provider.status(deps.exec, ctx.name) : { name: ctx.name, provider: ctx.provider.id, state: "missing" };
  const { inputs, unsupported: notHere } = machineInputs(ctx, deps.env, deps.emit);
  const unsupported = ctx.detected.usable ? notHere : [{ feature: "provider", reason: `${ctx.provider.displayName}: ${ctx.detected.reason ?? "not usable"}` }, ...notHere];
  for (const u of notHere) deps.emit({ type: "warning", message: `${u.feature} is configured but ${ctx.provider.displayName} cannot run it: ${u.reason}` });

  if (!ctx.provider.features.create.supported) {
    // Docker Desktop: the VM exists with the app; init can only make sure it runs
    const steps: PlanStep[] = info.state === "running" ? [] : [{ kind: "exec", title: `start ${ctx.provider.displayName}`, argv: line(ctx, "start") }];
    return run(ctx, deps, steps, [{ feature: "create", reason: ctx.provider.features.create.reason ?? "" }, ...unsupported], info.state === "running" ? `${ctx.provider.displayName} is running` : undefined);
  }
  if (info.state !== "missing" && !opts.recreate) {
    return { ...(await run(ctx, deps, [], unsupported, `VM ${ctx.name} already exists (${info.state}); pass --recreate to replace it`)), existing: info };
  }

  const steps: PlanStep[] = [];
  if (info.state !== "missing") {
    if (!ctx.dryRun) await deps.confirm(`Delete VM ${ctx.name} (${ctx.provider.displayName}, ${info.state}) and everything in it, then create it again?`);
    steps.push({ kind: "exec", title: `remove existing VM ${ctx.name}`, argv: line(ctx, "remove") });
  }
  const secrets: { tunnelToken?: string; tailscaleAuthkey?: string } = {};
  if (inputs.features.tailscale) secrets.tailscaleAuthkey = await tailscaleAuthkey(ctx, deps.env);
  if (ctx.provider.nativeConfig === "ignition") {
    // podman only creates its machine key inside `machine init`, after devx wrote the Ignition
    // config that must already carry it; a first-time user gets it generated here (ssh-keygen does
    // not create the folder). Local steps come before the tunnel, so a failure here leaves nothing at Cloudflare.
    const key = podmanMachineKey(deps.env);
    if (!key.exists) {
      steps.push({ kind: "mkdir", title: "create podman's machine key folder", path: dirname(key.path), mode: 0o700 });
      steps.push({ kind: "exec", title: "create podman's machine ssh key", argv: ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "podman-machine", "-f", key.path] });
    }
  }
  if (inputs.features.cloudflared) {
    const accountId = accountIdOf(ctx.vm, deps.env)!;
    // a missing token fails here, before any step has run
    await apiToken(ctx.vm, deps.env);
    const owner = await peekOwnerId(deps.paths.state);
    const tunnelName = tunnelNameFor(ctx.name, owner ?? "<your owner id>");
    steps.push({
      kind: "api",
      title: `ensure Cloudflare tunnel ${tunnelName} and fetch its token`,
      request: `GET/POST /accounts/${accountId}/cfd_tunnel (name=${tunnelName}), GET …/token`,
      run: async () => {
        secrets.tunnelToken = (await ensureVmTunnel(await vmCloudflareSetup(deps, ctx.name, ctx.vm))).token;
      },
    });
  }
  const configPath = ctx.provider.configPath!(ctx.name, deps.paths.state, deps.env);
  // keys are read when the file is written, so a key made by an earlier step is included
  const render = (mask: boolean) => renderNative(ctx.provider, { ...inputs, ...(mask ? {} : { sshKeys: sshKeys(ctx, deps.env) }), ...secrets }, ctx.resources, mask);
  steps.push({ kind: "write", title: `${ctx.provider.nativeConfig} machine configuration`, path: configPath, mode: 0o600, contents: () => render(false), masked: () => render(true) });
  steps.push({ kind: "exec", title: `create VM ${ctx.name}`, argv: line(ctx, "create", { resources: ctx.resources, configPath }) });
  if (!ctx.provider.createStarts) steps.push({ kind: "exec", title: `start VM ${ctx.name}`, argv: line(ctx, "start") });
  return run(ctx, deps, steps, unsupported);
}

export async function vmStart(deps: CoreDeps, opts: VmFlags): Promise<PlanResult> {
  const ctx = await resolveVmContext(deps, opts);
  const info = await ctx.provider.status(deps.exec, ctx.name);
  if (ctx.provider.features.create.supported) requireExisting(ctx, info);
  return run(ctx, deps, [{ kind: "exec", title: `start VM ${ctx.name}`, argv: line(ctx, "start") }], [], info.state === "running" ? `VM ${ctx.name} is already running` : undefined);
}

export async function vmStop(deps: CoreDeps, opts: VmFlags & { sleep?: boolean }): Promise<PlanResult> {
  const ctx = await resolveVmContext(deps, opts);
  const op: VmOp = opts.sleep ? "sleep" : "stop";
  if (opts.sleep && !ctx.provider.features.sleep.supported) throw new ProviderError(`${ctx.provider.displayName} cannot sleep a VM: ${ctx.provider.features.sleep.reason}`, "use `devx vm stop` instead");
  const info = await ctx.provider.status(deps.exec, ctx.name);
  if (ctx.provider.features.create.supported) requireExisting(ctx, info);
  const warnings = opts.sleep && ctx.provider.features.sleep.reason ? [{ feature: "sleep", reason: ctx.provider.features.sleep.reason }] : [];
  return run(ctx, deps, [{ kind: "exec", title: `${opts.sleep ? "sleep" : "stop"} VM ${ctx.name}`, argv: line(ctx, op) }], warnings, info.state === "stopped" ? `VM ${ctx.name} is already stopped` : undefined);
}

export async function vmRemove(deps: CoreDeps, opts: VmFlags & { keepTunnel?: boolean }): Promise<PlanResult> {
  const ctx = await resolveVmContext(deps, opts);
  if (!ctx.provider.features.create.supported) throw new ProviderError(`${ctx.provider.displayName} cannot remove its VM from devx: ${ctx.provider.features.create.reason}`, "uninstall or reset it from its own settings");
  const info = await ctx.provider.status(deps.exec, ctx.name);
  requireExisting(ctx, info);
  const steps: PlanStep[] = [{ kind: "exec", title: `remove VM ${ctx.name}`, argv: line(ctx, "remove") }];
  const accountId = accountIdOf(ctx.vm, deps.env);
  if (accountId && !opts.keepTunnel) {
    // a missing token fails here, before the VM is removed
    await apiToken(ctx.vm, deps.env);
    steps.push({
      kind: "api",
      title: `delete the VM's Cloudflare tunnel and the devx DNS records pointing at it`,
      request: `DELETE /zones/…/dns_records (devx CNAMEs → the tunnel), DELETE /accounts/${accountId}/cfd_tunnel/… (connections, then tunnel)`,
      run: async () => {
        await removeVmTunnel(await vmCloudflareSetup(deps, ctx.name, ctx.vm));
      },
    });
  }
  if (!ctx.dryRun) await deps.confirm(`Delete VM ${ctx.name} (${ctx.provider.displayName}) and everything in it${steps.length > 1 ? ", with its Cloudflare tunnel" : ""}?`);
  return run(ctx, deps, steps);
}

export async function vmResize(deps: CoreDeps, opts: VmFlags & Partial<VmResources>): Promise<PlanResult> {
  const ctx = await resolveVmContext(deps, opts);
  if (!ctx.provider.features.resize.supported) throw new ProviderError(`${ctx.provider.displayName} cannot resize the VM: ${ctx.provider.features.resize.reason}`, "change the resources in the provider's own settings");
  const info = await ctx.provider.status(deps.exec, ctx.name);
  requireExisting(ctx, info);
  const target: VmResources = {
    cpus: opts.cpus ?? info.cpus ?? ctx.resources.cpus,
    memoryMiB: opts.memoryMiB ?? info.memoryMiB ?? ctx.resources.memoryMiB,
    diskGiB: opts.diskGiB ?? info.diskGiB ?? ctx.resources.diskGiB,
  };
  if (info.diskGiB !== undefined && target.diskGiB < info.diskGiB) throw new UsageError(`the disk can only grow (${info.diskGiB} GiB now, ${target.diskGiB} GiB asked)`, `pass --disk ${Math.ceil(info.diskGiB)}GiB or more`);
  const running = info.state === "running";
  const steps: PlanStep[] = [];
  if (running) steps.push({ kind: "exec", title: `stop VM ${ctx.name} to resize it`, argv: line(ctx, "stop") });
  steps.push({ kind: "exec", title: `resize VM ${ctx.name} to ${target.cpus} CPUs, ${target.memoryMiB} MiB, ${target.diskGiB} GiB`, argv: line(ctx, "resize", { resources: target }) });
  // colima applies resources by starting; podman and lima only change settings
  if (running && !ctx.provider.createStarts) steps.push({ kind: "exec", title: `start VM ${ctx.name}`, argv: line(ctx, "start") });
  if (!running && ctx.provider.createStarts) steps.push({ kind: "exec", title: `stop VM ${ctx.name} again`, argv: line(ctx, "stop") });
  return run(ctx, deps, steps);
}

export interface VmStatus {
  vm: string;
  provider: { id: string; name: string; version: string; from: string };
  state: VmInfo["state"];
  cpus?: number;
  memoryMiB?: number;
  diskGiB?: number;
  runtime: { kind: string; endpoint: string };
  features: Record<string, { supported: boolean; reason?: string }>;
  tailnet: TailnetStatus;
}

/** Provider, state, resources and tailnet of the configured VM (the dashboard's VMs pane). */
export async function vmStatus(deps: CoreDeps, opts: VmFlags = {}): Promise<VmStatus> {
  const ctx = await resolveVmContext(deps, opts);
  const info = await ctx.provider.status(deps.exec, ctx.name);
  return {
    vm: ctx.name,
    provider: { id: ctx.provider.id, name: ctx.provider.displayName, version: ctx.detected.version, from: ctx.providerFrom },
    state: info.state,
    cpus: info.cpus,
    memoryMiB: info.memoryMiB,
    diskGiB: info.diskGiB,
    runtime: ctx.provider.runtime(ctx.name),
    features: { ...ctx.provider.features },
    tailnet: await tailnet(ctx, deps, info),
  };
}

async function tailnet(ctx: VmContext, deps: CoreDeps, info: VmInfo): Promise<TailnetStatus> {
  if (!(ctx.vm.tailscale?.authkey || deps.env.TS_AUTHKEY)) return { state: "not-configured" };
  if (!ctx.provider.features.inVmUnits.supported || !ctx.provider.features.exec.supported) return { state: "unsupported", reason: ctx.provider.features.inVmUnits.reason ?? ctx.provider.features.exec.reason };
  if (info.state !== "running") return { state: "vm-not-running" };
  const cli = ctx.provider.vmContainerCli ?? "podman";
  const r = await deps.exec.run(line(ctx, "exec", { command: ["sudo", cli, "exec", "devx-tailscale", "tailscale", "status", "--json"] }), { timeoutMs: 15_000, signal: deps.signal });
  if (r.code !== 0) return { state: "unavailable", reason: (r.stderr.trim() || r.stdout.trim()).split("\n").slice(-1)[0] };
  return parseTailscaleStatus(r.stdout);
}

/**
 * An interactive shell, or one command, in the VM (terminal attached): the command line that does
 * it, and running it (a dry run only shows `argv`).
 */
export async function vmSsh(deps: CoreDeps, opts: VmFlags & { command: string[] }): Promise<{ argv: string[]; run(): Promise<number> }> {
  const ctx = await resolveVmContext(deps, opts);
  if (!ctx.provider.features.exec.supported) throw new ProviderError(`${ctx.provider.displayName} has no shell into its VM: ${ctx.provider.features.exec.reason}`, "use `docker run -it --rm --privileged --pid=host <image> nsenter -t 1 -m -u -n -i sh` if you must");
  const argv = opts.command.length ? line(ctx, "exec", { command: opts.command }) : line(ctx, "shell");
  return { argv, run: async () => (await deps.exec.run(argv, { inherit: true, signal: deps.signal })).code };
}

/** The native machine configuration `init` would use (secrets masked unless asked). */
export async function vmIgnition(deps: CoreDeps, opts: VmFlags & { reveal?: boolean }): Promise<{ kind: string; text: string }> {
  const ctx = await resolveVmContext(deps, opts, { planOnly: true });
  const { inputs } = machineInputs(ctx, deps.env, deps.emit);
  const secrets = opts.reveal ? { tailscaleAuthkey: inputs.features.tailscale ? await tailscaleAuthkey(ctx, deps.env) : undefined } : {};
  if (opts.reveal && inputs.features.cloudflared) {
    const s = await vmCloudflareSetup(deps, ctx.name, ctx.vm);
    const t = await findVmTunnel(s);
    if (t) Object.assign(secrets, { tunnelToken: await s.cf.tunnelToken(s.accountId, t.id) });
  }
  return { kind: ctx.provider.nativeConfig ?? "none", text: renderNative(ctx.provider, { ...inputs, ...secrets }, ctx.resources, !opts.reveal) };
}
