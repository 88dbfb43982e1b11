import { ConfigError, PermissionError } from "../../errors.ts";
import type { Deps } from "../../cli/deps.ts";
import { resolveVmName } from "../../config/settings.ts";
import type { VmConfig } from "../../config/schema.ts";
import { CloudflareClient, DEFAULT_API, type Tunnel } from "../../../providers/cloudflare/client.ts";
import { resolveSecret } from "../vm/secrets.ts";

/** Everything the tunnel use-cases need: an API client, the account, the VM's tunnel name, the zone. */
export interface CloudflareSetup {
  cf: CloudflareClient;
  accountId: string;
  vmName: string;
  tunnelName: string;
  /** the default zone (vm.cloudflare.zone); --domain overrides per call */
  zone?: string;
}

export const COMMENT_PREFIX = "devx:";

/**
 * One tunnel per VM and per developer: teammates share an account (and often the VM name "devx"),
 * so the host user is part of the name.
 */
export function tunnelNameFor(vmName: string, env: Record<string, string | undefined>): string {
  const who = (env.USER || env.USERNAME || "user").toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "") || "user";
  return `devx-${vmName}-${who}`;
}

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

export async function cloudflareSetup(deps: Deps, flags: { name?: string } = {}): Promise<CloudflareSetup> {
  const project = (await deps.findConfig())?.config;
  const user = await deps.userConfig();
  const vmName = resolveVmName({ flags, env: deps.env, project, user }).value;
  const vm = project?.vm;
  const accountId = accountIdOf(vm, deps.env);
  if (!accountId) throw new ConfigError("no Cloudflare account id", "set vm.cloudflare.account_id in devx.yaml (or CLOUDFLARE_ACCOUNT_ID); it is on the dashboard's Overview page");
  const cf = new CloudflareClient(await apiToken(vm, deps.env), deps.env.DEVX_CLOUDFLARE_API || DEFAULT_API);
  return { cf, accountId, vmName, tunnelName: tunnelNameFor(vmName, deps.env), zone: vm?.cloudflare?.zone };
}

/** The VM's tunnel, created (remotely managed, config_src cloudflare) when missing, with its run token. */
export async function ensureVmTunnel(s: Pick<CloudflareSetup, "cf" | "accountId" | "tunnelName">): Promise<{ tunnel: Tunnel; token: string; created: boolean }> {
  const existing = (await s.cf.listTunnels(s.accountId, s.tunnelName)).find((t) => t.name === s.tunnelName && !t.deleted_at);
  const tunnel = existing ?? (await s.cf.createTunnel(s.accountId, s.tunnelName));
  const token = await s.cf.tunnelToken(s.accountId, tunnel.id);
  return { tunnel, token, created: !existing };
}

export async function findVmTunnel(s: CloudflareSetup): Promise<Tunnel | undefined> {
  return (await s.cf.listTunnels(s.accountId, s.tunnelName)).find((t) => t.name === s.tunnelName && !t.deleted_at);
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
    const records = (await s.cf.listDnsRecords(zone.id, { type: "CNAME" })).filter((r) => r.content === `${tunnel.id}.cfargotunnel.com` && (r.comment ?? "").startsWith(COMMENT_PREFIX));
    for (const r of records) {
      await s.cf.deleteDnsRecord(zone.id, r.id);
      removed.push(r.name);
    }
    const routes = await s.cf.listWorkerRoutes(zone.id).catch(() => []);
    for (const r of routes.filter((x) => (x.script ?? "").startsWith("devx-auth-") && removed.includes(x.pattern.replace(/\/\*$/, "")))) {
      await s.cf.deleteWorkerRoute(zone.id, r.id);
      await s.cf.deleteWorker(s.accountId, r.script!);
    }
  }
  await s.cf.cleanupTunnelConnections(s.accountId, tunnel.id);
  await s.cf.deleteTunnel(s.accountId, tunnel.id);
  return { tunnel: tunnel.name, records: removed };
}
