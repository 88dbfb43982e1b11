import { ConfigError, NotFoundError, PermissionError } from "../../errors.ts";
import type { CoreDeps } from "../deps.ts";
import { resolveVmName } from "../../config/settings.ts";
import type { VmConfig } from "../../config/schema.ts";
import { CloudflareClient, DEFAULT_API, type DnsRecord, type Tunnel } from "../../../providers/cloudflare/client.ts";
import { resolveSecret } from "../vm/secrets.ts";
import { ownerId, readJournal, readVmTunnel, removeJournal, removeVmTunnelRecord, writeVmTunnel } from "./local-state.ts";

/** Everything the tunnel use-cases need: an API client, the account, the VM, the developer, the zone. */
export interface CloudflareSetup {
  cf: CloudflareClient;
  accountId: string;
  vmName: string;
  /** this developer's id (local-state.ts), part of tunnel names and DNS comments */
  owner: string;
  tunnelName: string;
  /** the default zone (vm.cloudflare.zone); --domain overrides per call */
  zone?: string;
  /** <state>: the VM's tunnel record, the journal and the locks live under it */
  state: string;
}

export const COMMENT_PREFIX = "devx:";

/**
 * One tunnel per VM and per developer. Teammates share an account and often a VM name ("devx")
 * and even a user name, so the name carries the developer's owner id; that suffix is also the
 * marker `gc --all-mine` recognises.
 */
export function tunnelNameFor(vmName: string, owner: string): string {
  return `devx-${vmName}-${owner}`;
}

/** The name devx gave a VM's tunnel before it had owner ids (still found, for VMs made back then). */
export function legacyTunnelName(vmName: string, env: Record<string, string | undefined>): string {
  const who = (env.USER || env.USERNAME || "user").toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "") || "user";
  return `devx-${vmName}-${who}`;
}

/** The DNS comment that marks a record as devx's and says whose (at most 100 characters: the Free plan's limit). */
export function ownerComment(owner: string, vmName: string, basicAuth: boolean): string {
  const tail = basicAuth ? " auth=basic" : "";
  const head = `${COMMENT_PREFIX} owner=${owner} vm=`;
  return `${head}${vmName.slice(0, 100 - head.length - tail.length)}${tail}`;
}

export const isDevxRecord = (r: DnsRecord) => (r.comment ?? "").startsWith(COMMENT_PREFIX);
export const recordOwner = (r: DnsRecord) => /^devx: owner=(\S+)/.exec(r.comment ?? "")?.[1];
export const recordHasAuth = (r: DnsRecord) => / auth=basic\b/.test(r.comment ?? "");

export async function apiToken(vm: VmConfig | undefined, env: Record<string, string | undefined>): Promise<string> {
  const token = (await resolveSecret(vm?.cloudflare?.api_token, env, "vm.cloudflare.api_token")) ?? env.CLOUDFLARE_API_TOKEN;
  if (!token) {
    throw new PermissionError("no Cloudflare API token", 'set CLOUDFLARE_API_TOKEN, or vm.cloudflare.api_token: "env:NAME" in devx.yaml (permissions: Account:Cloudflare Tunnel:Edit, Zone:DNS:Edit, Zone:Zone:Read)');
  }
  return token;
}

export function accountIdOf(vm: VmConfig | undefined, env: Record<string, string | undefined>): string | undefined {
  return vm?.cloudflare?.account_id ?? env.CLOUDFLARE_ACCOUNT_ID;
}

/**
 * An API client that waits between retries on the command's clock and says when it does. It is not
 * tied to the command's Ctrl-C signal: cleanup after Ctrl-C (`devx up` unexposing its tunnels) must
 * still reach Cloudflare, and every request is bounded by its retries.
 */
export function cloudflareClient(deps: Pick<CoreDeps, "env" | "clock" | "emit">, token: string): CloudflareClient {
  return new CloudflareClient(token, deps.env.DEVX_CLOUDFLARE_API || DEFAULT_API, {
    sleep: (ms) => deps.clock.sleep(ms),
    onRetry: (r) => deps.emit({ type: "info", message: `Cloudflare answered ${r.method} ${r.path.replace(/\/[0-9a-f-]{32,36}(?=\/|$)/g, "/…")} with ${r.status === "network" ? "no answer" : `HTTP ${r.status}`}; retrying in ${(r.waitMs / 1000).toFixed(1)} s (${r.attempt})` }),
  });
}

export async function cloudflareSetup(deps: CoreDeps, flags: { name?: string } = {}): Promise<CloudflareSetup> {
  const project = (await deps.findConfig())?.config;
  const user = await deps.userConfig();
  const vmName = resolveVmName({ flags, env: deps.env, project, user }).value;
  return vmCloudflareSetup(deps, vmName, project?.vm);
}

/** The setup for a VM already resolved (the vm commands have its name and settings). */
export async function vmCloudflareSetup(deps: Pick<CoreDeps, "env" | "clock" | "signal" | "emit" | "paths">, vmName: string, vm: VmConfig | undefined): Promise<CloudflareSetup> {
  const accountId = accountIdOf(vm, deps.env);
  if (!accountId) throw new ConfigError("no Cloudflare account id", "set vm.cloudflare.account_id in devx.yaml (or CLOUDFLARE_ACCOUNT_ID); it is on the dashboard's Overview page");
  const cf = cloudflareClient(deps, await apiToken(vm, deps.env));
  const owner = await ownerId(deps.paths.state, deps.env);
  return { cf, accountId, vmName, owner, tunnelName: tunnelNameFor(vmName, owner), zone: vm?.cloudflare?.zone, state: deps.paths.state };
}

type TunnelSetup = Pick<CloudflareSetup, "cf" | "accountId" | "tunnelName" | "vmName" | "owner" | "state">;

async function record(s: TunnelSetup, t: Tunnel): Promise<void> {
  await writeVmTunnel(s.state, { accountId: s.accountId, vm: s.vmName, tunnelId: t.id, tunnelName: t.name, owner: s.owner, recordedAt: new Date().toISOString() });
}

/**
 * The VM's tunnel, created (remotely managed, config_src cloudflare) when missing, with its run
 * token; its id is recorded on this machine. A tunnel of this developer's name left by an
 * interrupted `vm init` is reused.
 */
export async function ensureVmTunnel(s: TunnelSetup): Promise<{ tunnel: Tunnel; token: string; created: boolean }> {
  const existing = await findVmTunnel(s);
  const tunnel = existing ?? (await s.cf.createTunnel(s.accountId, s.tunnelName));
  await record(s, tunnel);
  const token = await s.cf.tunnelToken(s.accountId, tunnel.id);
  return { tunnel, token, created: !existing };
}

/**
 * The VM's tunnel: by the id recorded at `vm init`, else by this developer's tunnel name (both are
 * this developer's alone). `adoptLegacy` also accepts the older `devx-<vm>-<user>` name, which a
 * teammate with the same user and VM name could share; what it finds is recorded.
 */
export async function findVmTunnel(s: TunnelSetup, opts: { adoptLegacy?: boolean; env?: Record<string, string | undefined> } = {}): Promise<Tunnel | undefined> {
  const rec = await readVmTunnel(s.state, s.accountId, s.vmName);
  if (rec) {
    const t = await s.cf.getTunnel(s.accountId, rec.tunnelId);
    if (t) return t;
  }
  const byName = (name: string) => s.cf.listTunnels(s.accountId, { name }).then((ts) => ts.find((t) => t.name === name && !t.deleted_at));
  const found = (await byName(s.tunnelName)) ?? (opts.adoptLegacy && opts.env ? await byName(legacyTunnelName(s.vmName, opts.env)) : undefined);
  if (found) await record(s, found);
  return found;
}

export async function requireVmTunnel(s: TunnelSetup, env: Record<string, string | undefined>): Promise<Tunnel> {
  const t = await findVmTunnel(s, { adoptLegacy: true, env });
  if (!t) throw new NotFoundError(`the VM ${s.vmName} has no Cloudflare tunnel (${s.tunnelName})`, "run `devx vm init` with vm.cloudflare set in devx.yaml: it creates the tunnel and its cloudflared unit");
  return t;
}

/**
 * Delete the VM's tunnel with the devx DNS records and basic-auth guards that point at it (used by
 * `vm rm`). Records go first so no public name is left pointing at a dead tunnel.
 */
export async function removeVmTunnel(s: CloudflareSetup): Promise<{ tunnel?: string; records: string[] }> {
  const tunnel = await findVmTunnel(s);
  if (!tunnel) return { records: [] };
  const removed: string[] = [];
  if (s.zone) {
    const zone = await s.cf.findZone(s.zone);
    const records = (await s.cf.listDnsRecords(zone.id, { type: "CNAME", content: `${tunnel.id}.cfargotunnel.com` })).filter((r) => r.content === `${tunnel.id}.cfargotunnel.com` && isDevxRecord(r));
    for (const r of records) {
      await s.cf.deleteDnsRecord(zone.id, r.id);
      removed.push(r.name);
    }
    const journal = await readJournal(s.state, tunnel.id);
    const guarded = new Set([...records.filter(recordHasAuth).map((r) => r.name), ...Object.entries(journal.rules).filter(([, e]) => e.basicAuth).map(([h]) => h)]);
    if (guarded.size) {
      const routes = await s.cf.listWorkerRoutes(zone.id).catch(() => []);
      for (const r of routes.filter((x) => (x.script ?? "").startsWith("devx-auth-") && guarded.has(x.pattern.replace(/\/\*$/, "")))) {
        await s.cf.deleteWorkerRoute(zone.id, r.id);
        await s.cf.deleteWorker(s.accountId, r.script!);
      }
    }
  }
  await s.cf.cleanupTunnelConnections(s.accountId, tunnel.id);
  await s.cf.deleteTunnel(s.accountId, tunnel.id);
  await removeVmTunnelRecord(s.state, s.accountId, s.vmName);
  await removeJournal(s.state, tunnel.id);
  return { tunnel: tunnel.name, records: removed };
}
