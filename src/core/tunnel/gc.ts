import { NotFoundError } from "../../errors.ts";
import type { CoreDeps } from "../deps.ts";
import type { DnsRecord, IngressRule, Tunnel, Zone } from "../../../providers/cloudflare/client.ts";
import { cloudflareSetup, findVmTunnel, isDevxRecord, recordHasAuth, type CloudflareSetup } from "./setup.ts";
import { sameRule, updateIngress, withoutRules } from "./ingress.ts";
import { readJournal, recordedTunnels, updateJournal, type Journal } from "./local-state.ts";
import { withTunnelLock } from "./lock.ts";
import { cnameTarget, ingressTarget, isDevxRoute, routesOrUndefined, zoneOf } from "./expose.ts";

/**
 * `tunnel gc`: remove what devx created that lost its other half.
 *
 * Scope: the VM's own tunnel, by the id `vm init` recorded on this machine, and the devx CNAMEs
 * pointing at it. `allMine` widens it to every tunnel carrying this developer's owner id (in its
 * name, or recorded on this machine) and every CNAME whose devx comment names this developer. A
 * teammate's tunnel or record is never in scope.
 *
 * Collected: a devx CNAME whose tunnel is gone or no longer routes its host; an ingress rule devx
 * added (its journal says so) that no devx CNAME points at. A rule devx did not add is the user's
 * and stays. Nothing younger than the grace period is touched: it may belong to a command that is
 * still running elsewhere (its DNS record not created yet). Each tunnel is handled under its lock.
 */
export const DEFAULT_GC_GRACE_MS = 10 * 60_000;

export interface GcItem {
  kind: "dns" | "ingress" | "auth";
  hostname: string;
  /** the tunnel the item belongs to (its name, or its id when it is gone) */
  tunnel: string;
  reason: string;
}

export interface GcResult {
  scope: "vm" | "all-mine";
  tunnels: string[];
  removed: GcItem[];
  /** orphans left because they are younger than the grace period */
  kept: GcItem[];
}

export interface GcInput {
  domain?: string;
  dryRun?: boolean;
  allMine?: boolean;
  /** default DEFAULT_GC_GRACE_MS */
  graceMs?: number;
  vmName?: string;
}

const tunnelIdOf = (r: DnsRecord) => r.content.toLowerCase().replace(/\.cfargotunnel\.com$/, "");

export async function gc(deps: CoreDeps, input: GcInput = {}, setup?: CloudflareSetup): Promise<GcResult> {
  const s = setup ?? (await cloudflareSetup(deps, { name: input.vmName }));
  const zoneName = zoneOf(s, input.domain);
  const zone = await s.cf.findZone(zoneName);
  const grace = input.graceMs ?? DEFAULT_GC_GRACE_MS;
  const young = (ms: number) => Date.now() - ms < grace;
  const mine = await tunnelsInScope(s, !!input.allMine);
  const result: GcResult = { scope: input.allMine ? "all-mine" : "vm", tunnels: mine.map((t) => t.name), removed: [], kept: [] };
  const guarded = new Set<string>();
  const inZone = (host: string) => host === zoneName || host.endsWith(`.${zoneName}`);

  const sweep = async (t: Tunnel) => {
    const journal = await readJournal(s.state, t.id);
    const records = (await s.cf.listDnsRecords(zone.id, { type: "CNAME", content: cnameTarget(t.id) })).filter((r) => tunnelIdOf(r) === t.id && isDevxRecord(r));
    const rules = (await s.cf.getTunnelConfig(s.accountId, t.id)).config?.ingress ?? [];
    for (const r of records) {
      if (rules.some((x) => x.hostname === r.name)) continue;
      await collectRecord(r, t.name, "its tunnel no longer routes this host", journal);
    }
    const left = records.filter((r) => !result.removed.some((i) => i.kind === "dns" && i.hostname === r.name));
    const orphans: IngressRule[] = [];
    for (const rule of rules) {
      const host = rule.hostname;
      const entry = host ? journal.rules[host] : undefined;
      if (!host || rule.path || !inZone(host) || !entry || entry.service !== rule.service || left.some((r) => r.name === host)) continue;
      const item: GcItem = { kind: "ingress", hostname: host, tunnel: t.name, reason: `no DNS record points at ${t.name} for it` };
      if (young(entry.addedAt)) {
        result.kept.push({ ...item, reason: `${item.reason}, but devx added it less than the grace period ago` });
        continue;
      }
      orphans.push(rule);
      result.removed.push(item);
      if (entry.basicAuth) guarded.add(host);
    }
    if (input.dryRun || !orphans.length) return;
    await updateIngress(ingressTarget(deps, s, t.id), (now) => (now.some((x) => orphans.some((o) => sameRule(x, o))) ? withoutRules(now, (x) => orphans.some((o) => sameRule(x, o))) : undefined), (now) => !now.some((x) => orphans.some((o) => sameRule(x, o))), "remove orphaned rules");
    await updateJournal(s.state, t.id, (j) => {
      for (const o of orphans) delete j.rules[o.hostname!];
    });
  };

  const collectRecord = async (r: DnsRecord, tunnel: string, reason: string, journal?: Journal) => {
    const item: GcItem = { kind: "dns", hostname: r.name, tunnel, reason };
    const created = Date.parse(r.created_on ?? "");
    if (Number.isFinite(created) && young(created)) {
      result.kept.push({ ...item, reason: `${reason}, but it is younger than the grace period` });
      return;
    }
    result.removed.push(item);
    if (recordHasAuth(r) || journal?.rules[r.name]?.basicAuth) guarded.add(r.name);
    if (!input.dryRun) await s.cf.deleteDnsRecord(zone.id, r.id);
  };

  for (const t of mine) {
    if (input.dryRun) await sweep(t);
    else await withTunnelLock(deps, t.id, "tunnel gc", () => sweep(t));
  }

  if (input.allMine) {
    // this developer's records whose tunnel is gone (a VM removed without `vm rm`)
    const marked = await s.cf.listDnsRecords(zone.id, { type: "CNAME", commentPrefix: `devx: owner=${s.owner} ` });
    for (const r of marked.filter((x) => x.content.toLowerCase().endsWith(".cfargotunnel.com") && !mine.some((t) => t.id === tunnelIdOf(x)))) {
      if (await s.cf.getTunnel(s.accountId, tunnelIdOf(r))) continue; // alive but not this developer's: not ours to judge
      await collectRecord(r, tunnelIdOf(r), "its tunnel no longer exists");
    }
  }

  // basic-auth guards of hosts that lost their record or rule: only these need the Worker routes permission
  if (guarded.size) await removeGuards(s, zone, guarded, result, !!input.dryRun);
  return result;
}

async function tunnelsInScope(s: CloudflareSetup, allMine: boolean): Promise<Tunnel[]> {
  if (!allMine) {
    const t = await findVmTunnel(s);
    if (!t) throw new NotFoundError(`no Cloudflare tunnel is recorded for the VM ${s.vmName} on this machine`, "gc acts on the tunnel `devx vm init` recorded; `devx tunnel gc --all-mine` covers every tunnel with your owner id");
    return [t];
  }
  const named = (await s.cf.listTunnels(s.accountId, { prefix: "devx-" })).filter((t) => t.name.endsWith(`-${s.owner}`) && !t.deleted_at);
  const out = [...named];
  for (const rec of await recordedTunnels(s.state, s.accountId)) {
    if (out.some((t) => t.id === rec.tunnelId)) continue;
    const t = await s.cf.getTunnel(s.accountId, rec.tunnelId);
    if (t) out.push(t);
  }
  return out;
}

async function removeGuards(s: CloudflareSetup, zone: Zone, hosts: Set<string>, result: GcResult, dryRun: boolean): Promise<void> {
  const routes = (await routesOrUndefined(s, zone.id)) ?? [];
  for (const r of routes.filter((x) => isDevxRoute(x) && hosts.has(x.pattern.replace(/\/\*$/, "")))) {
    const host = r.pattern.replace(/\/\*$/, "");
    result.removed.push({ kind: "auth", hostname: host, tunnel: "-", reason: `its host was collected (Worker ${r.script})` });
    if (dryRun) continue;
    await s.cf.deleteWorkerRoute(zone.id, r.id);
    await s.cf.deleteWorker(s.accountId, r.script!);
  }
}
