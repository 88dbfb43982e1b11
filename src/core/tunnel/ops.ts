import { ConflictError, NotFoundError, PermissionError, UsageError } from "../../errors.ts";
import { plural } from "../../events/format.ts";
import type { Deps } from "../../cli/deps.ts";
import type { DnsRecord, IngressRule, Tunnel, WorkerRoute } from "../../../providers/cloudflare/client.ts";
import { BASIC_AUTH_BINDING, BASIC_AUTH_WORKER, credentialDigest, workerNameFor } from "../../../providers/cloudflare/basic-auth.ts";
import { COMMENT_PREFIX, cloudflareSetup, findVmTunnel, type CloudflareSetup } from "./setup.ts";

/**
 * Exposures live at Cloudflare, not in a local file: an ingress rule in the VM tunnel's remotely
 * managed configuration plus a proxied CNAME `<name>.<zone>` → `<tunnel-id>.cfargotunnel.com`
 * whose comment marks it as devx's. cloudflared picks up configuration changes live.
 */
export const CATCH_ALL: IngressRule = { service: "http_status:404" };
const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export interface Exposure {
  name: string;
  hostname: string;
  url: string;
  service?: string;
  port?: number;
  /** both halves present at Cloudflare */
  live: boolean;
  ingress: boolean;
  dns: boolean;
  /** under --dry-run: the API calls a real run would make, in order (nothing was changed) */
  plan?: string[];
  /** "basic": a devx basic-auth Worker guards the host; "unknown" when the token cannot read Worker routes */
  auth: "none" | "basic" | "unknown";
}

export const cnameTarget = (tunnelId: string) => `${tunnelId}.cfargotunnel.com`;
const ownerComment = (s: CloudflareSetup) => `${COMMENT_PREFIX} vm=${s.vmName} tunnel=${s.tunnelName}`.slice(0, 100);
const isOwned = (r: DnsRecord) => (r.comment ?? "").startsWith(COMMENT_PREFIX);
const withoutCatchAll = (rules: IngressRule[]) => rules.filter((r) => r.hostname !== undefined);
const portOf = (service?: string) => {
  const m = /:(\d+)\/?$/.exec(service ?? "");
  return m ? Number(m[1]) : undefined;
};

async function requireTunnel(s: CloudflareSetup): Promise<Tunnel> {
  const t = await findVmTunnel(s);
  if (!t) throw new NotFoundError(`the VM ${s.vmName} has no Cloudflare tunnel (${s.tunnelName})`, "run `devx vm init` with vm.cloudflare set in devx.yaml: it creates the tunnel and its cloudflared unit");
  return t;
}

function zoneOf(s: CloudflareSetup, domain?: string): string {
  const z = domain ?? s.zone;
  if (!z) throw new UsageError("no domain to expose under", "pass --domain example.com, or set vm.cloudflare.zone in devx.yaml");
  return z.replace(/\.$/, "").toLowerCase();
}

export interface ExposeInput {
  port: number;
  name?: string;
  domain?: string;
  vmName?: string;
  basicAuth?: { user: string; password: string };
  dryRun?: boolean;
}

const routePattern = (hostname: string) => `${hostname}/*`;
const isDevxRoute = (r: WorkerRoute) => (r.script ?? "").startsWith("devx-auth-");

/** Worker routes, or undefined when the token may not read them (basic auth is optional). */
async function routesOrUndefined(s: CloudflareSetup, zoneId: string): Promise<WorkerRoute[] | undefined> {
  try {
    return await s.cf.listWorkerRoutes(zoneId);
  } catch (e) {
    if (e instanceof PermissionError) return undefined;
    throw e;
  }
}

export async function expose(deps: Deps, input: ExposeInput, setup?: CloudflareSetup): Promise<Exposure> {
  const s = setup ?? (await cloudflareSetup(deps, { name: input.vmName }));
  const label = (input.name ?? `${s.vmName}-${input.port}`).toLowerCase();
  // one level under the zone: Universal SSL covers *.zone but not *.*.zone
  if (!LABEL.test(label)) throw new UsageError(`"${label}" is not a single DNS label`, "use letters, digits and dashes, no dots: the host name stays one level under the zone so Universal SSL covers it");
  const zoneName = zoneOf(s, input.domain);
  const hostname = `${label}.${zoneName}`;
  const service = `http://localhost:${input.port}`;
  const tunnel = await requireTunnel(s);
  const zone = await s.cf.findZone(zoneName);

  const existing = (await s.cf.listDnsRecords(zone.id, { name: hostname })).filter((r) => r.name === hostname);
  const ours = existing.find((r) => r.type === "CNAME" && r.content === cnameTarget(tunnel.id) && isOwned(r));
  const foreign = existing.filter((r) => r !== ours);
  if (foreign.length) throw new ConflictError(`${hostname} already has a DNS record (${foreign.map((r) => `${r.type} → ${r.content}`).join(", ")}) that devx did not create for this tunnel`, "choose another --name, or remove that record at Cloudflare first");

  const conf = await s.cf.getTunnelConfig(s.accountId, tunnel.id);
  const rules = withoutCatchAll(conf.config?.ingress ?? []);
  const current = rules.find((r) => r.hostname === hostname);
  if (current && current.service !== service) throw new ConflictError(`${hostname} already routes to ${current.service}`, `run \`devx tunnel unexpose ${label}\` first`);
  if (input.dryRun) {
    const plan = [
      ...(current ? [] : [`PUT /accounts/${s.accountId}/cfd_tunnel/${tunnel.id}/configurations (add ${hostname} → ${service}, keep ${plural(rules.length, "rule")} and the 404 catch-all)`]),
      ...(input.basicAuth ? [`PUT /accounts/${s.accountId}/workers/scripts/${workerNameFor(hostname)} (basic-auth Worker)`, `POST /zones/${zone.id}/workers/routes (${routePattern(hostname)})`] : []),
      ...(ours ? [] : [`POST /zones/${zone.id}/dns_records (CNAME ${hostname} → ${cnameTarget(tunnel.id)}, proxied)`]),
    ];
    return { name: label, hostname, url: `https://${hostname}`, service, port: input.port, live: !!current && !!ours, ingress: !!current, dns: !!ours, auth: input.basicAuth ? "basic" : "unknown", plan };
  }
  deps.emit({ type: "step", id: "ingress", title: `route ${hostname} → ${service}`, status: "started" });
  if (!current) await s.cf.putTunnelConfig(s.accountId, tunnel.id, { ...(conf.config ?? {}), ingress: [...rules, { hostname, service }, CATCH_ALL] });
  deps.emit({ type: "step", id: "ingress", title: `route ${hostname} → ${service}`, status: "done" });
  // leave nothing half-made: what this call added is taken back when a later step fails
  const undo: Array<() => Promise<void>> = [];
  if (!current) undo.push(() => s.cf.putTunnelConfig(s.accountId, tunnel.id, { ...(conf.config ?? {}), ingress: [...rules, CATCH_ALL] }).then(() => {}));
  let auth: Exposure["auth"] = "none";
  try {
    if (input.basicAuth) {
      // the Worker guards the host before its DNS record exists, so it is never public unguarded
      const script = workerNameFor(hostname);
      deps.emit({ type: "step", id: "auth", title: `basic auth for ${hostname} (Cloudflare Worker ${script})`, status: "started" });
      await s.cf.putWorker(s.accountId, script, BASIC_AUTH_WORKER, { [BASIC_AUTH_BINDING]: await credentialDigest(input.basicAuth.user, input.basicAuth.password) });
      const routes = await s.cf.listWorkerRoutes(zone.id);
      if (!routes.some((r) => r.pattern === routePattern(hostname) && r.script === script)) {
        undo.push(() => s.cf.deleteWorker(s.accountId, script));
        const route = await s.cf.createWorkerRoute(zone.id, routePattern(hostname), script);
        undo.push(() => s.cf.deleteWorkerRoute(zone.id, route.id));
      }
      deps.emit({ type: "step", id: "auth", title: `basic auth for ${hostname}`, status: "done" });
      auth = "basic";
    } else {
      const routes = await routesOrUndefined(s, zone.id);
      auth = !routes ? "unknown" : routes.some((r) => r.pattern === routePattern(hostname) && isDevxRoute(r)) ? "basic" : "none";
    }
    if (!ours) {
      deps.emit({ type: "step", id: "dns", title: `CNAME ${hostname} (proxied)`, status: "started" });
      await s.cf.createDnsRecord(zone.id, { type: "CNAME", name: hostname, content: cnameTarget(tunnel.id), proxied: true, ttl: 1, comment: ownerComment(s) });
      deps.emit({ type: "step", id: "dns", title: `CNAME ${hostname} (proxied)`, status: "done" });
    }
  } catch (e) {
    for (const u of undo.reverse()) await u().catch(() => {});
    throw e;
  }
  return { name: label, hostname, url: `https://${hostname}`, service, port: input.port, live: true, ingress: true, dns: true, auth };
}

export async function unexpose(deps: Deps, input: { name: string; domain?: string; vmName?: string; dryRun?: boolean }, setup?: CloudflareSetup): Promise<{ hostname: string; removedIngress: boolean; removedDns: boolean; plan?: string[] }> {
  const s = setup ?? (await cloudflareSetup(deps, { name: input.vmName }));
  const zoneName = zoneOf(s, input.domain);
  const hostname = input.name.includes(".") ? input.name.toLowerCase() : `${input.name.toLowerCase()}.${zoneName}`;
  const tunnel = await requireTunnel(s);
  const zone = await s.cf.findZone(zoneName);
  // the public name goes first, the guard last: the host is never reachable without its auth
  const records = (await s.cf.listDnsRecords(zone.id, { name: hostname })).filter((r) => r.name === hostname && r.content === cnameTarget(tunnel.id) && isOwned(r));
  if (input.dryRun) {
    const conf = await s.cf.getTunnelConfig(s.accountId, tunnel.id);
    const routed = (conf.config?.ingress ?? []).some((r) => r.hostname === hostname);
    const guards = ((await routesOrUndefined(s, zone.id)) ?? []).filter((r) => r.pattern === routePattern(hostname) && isDevxRoute(r));
    if (!routed && records.length === 0) throw new NotFoundError(`${hostname} is not exposed through ${s.tunnelName}`, "run `devx tunnel list` to see what is");
    const plan = [
      ...records.map((r) => `DELETE /zones/${zone.id}/dns_records/${r.id} (CNAME ${hostname})`),
      ...(routed ? [`PUT /accounts/${s.accountId}/cfd_tunnel/${tunnel.id}/configurations (without ${hostname})`] : []),
      ...guards.flatMap((g) => [`DELETE /zones/${zone.id}/workers/routes/${g.id}`, `DELETE /accounts/${s.accountId}/workers/scripts/${g.script}`]),
    ];
    return { hostname, removedIngress: false, removedDns: false, plan };
  }
  for (const r of records) await s.cf.deleteDnsRecord(zone.id, r.id);
  const conf = await s.cf.getTunnelConfig(s.accountId, tunnel.id);
  const rules = withoutCatchAll(conf.config?.ingress ?? []);
  const keep = rules.filter((r) => r.hostname !== hostname);
  const removedIngress = keep.length !== rules.length;
  if (removedIngress) await s.cf.putTunnelConfig(s.accountId, tunnel.id, { ...(conf.config ?? {}), ingress: [...keep, CATCH_ALL] });
  const guards = ((await routesOrUndefined(s, zone.id)) ?? []).filter((r) => r.pattern === routePattern(hostname) && isDevxRoute(r));
  for (const g of guards) {
    await s.cf.deleteWorkerRoute(zone.id, g.id);
    await s.cf.deleteWorker(s.accountId, g.script!);
  }
  if (!removedIngress && records.length === 0) throw new NotFoundError(`${hostname} is not exposed through ${s.tunnelName}`, "run `devx tunnel list` to see what is");
  return { hostname, removedIngress, removedDns: records.length > 0 };
}

/** What is live at Cloudflare for this VM's tunnel: ingress rules joined with their DNS records. */
export async function listTunnels(deps: Deps, input: { domain?: string; vmName?: string } = {}, setup?: CloudflareSetup): Promise<{ tunnel?: { id: string; name: string; status?: string }; exposures: Exposure[] }> {
  const s = setup ?? (await cloudflareSetup(deps, { name: input.vmName }));
  const tunnel = await findVmTunnel(s);
  if (!tunnel) return { exposures: [] };
  const conf = await s.cf.getTunnelConfig(s.accountId, tunnel.id);
  const rules = withoutCatchAll(conf.config?.ingress ?? []);
  const zoneName = input.domain ?? s.zone;
  const zone = zoneName ? await s.cf.findZone(zoneName) : undefined;
  const records = zone ? (await s.cf.listDnsRecords(zone.id, { type: "CNAME" })).filter((r) => r.content === cnameTarget(tunnel.id)) : [];
  const routes = zone ? await routesOrUndefined(s, zone.id) : undefined;
  const hosts = new Set([...rules.map((r) => r.hostname!), ...records.map((r) => r.name)]);
  const exposures = [...hosts].sort().map((hostname): Exposure => {
    const rule = rules.find((r) => r.hostname === hostname);
    const dns = records.some((r) => r.name === hostname);
    const auth = !routes ? "unknown" : routes.some((r) => r.pattern === routePattern(hostname) && isDevxRoute(r)) ? "basic" : "none";
    return { name: hostname.split(".")[0]!, hostname, url: `https://${hostname}`, service: rule?.service, port: portOf(rule?.service), ingress: !!rule, dns, live: !!rule && dns, auth };
  });
  return { tunnel: { id: tunnel.id, name: tunnel.name, status: tunnel.status }, exposures };
}

export interface GcItem {
  kind: "dns" | "ingress" | "auth";
  hostname: string;
  reason: string;
}

/**
 * Remove what devx created that lost its owner: devx-marked CNAMEs pointing at a tunnel that is
 * gone or no longer routes that host, and rules in devx tunnels whose host has no record.
 */
export async function gc(deps: Deps, input: { domain?: string; dryRun?: boolean } = {}, setup?: CloudflareSetup): Promise<GcItem[]> {
  const s = setup ?? (await cloudflareSetup(deps));
  const zoneName = zoneOf(s, input.domain);
  const zone = await s.cf.findZone(zoneName);
  const tunnels = (await s.cf.listTunnels(s.accountId)).filter((t) => !t.deleted_at);
  const devxTunnels = tunnels.filter((t) => t.name.startsWith("devx-"));
  const rulesByTunnel = new Map<string, IngressRule[]>();
  for (const t of devxTunnels) rulesByTunnel.set(t.id, withoutCatchAll((await s.cf.getTunnelConfig(s.accountId, t.id)).config?.ingress ?? []));
  const records = (await s.cf.listDnsRecords(zone.id, { type: "CNAME" })).filter(isOwned);
  const items: GcItem[] = [];

  for (const r of records) {
    const tid = r.content.replace(/\.cfargotunnel\.com$/, "");
    const live = tunnels.find((t) => t.id === tid);
    const rules = rulesByTunnel.get(tid);
    const reason = !live ? "its tunnel no longer exists" : rules && !rules.some((x) => x.hostname === r.name) ? "its tunnel no longer routes this host" : undefined;
    if (!reason) continue;
    items.push({ kind: "dns", hostname: r.name, reason });
    if (!input.dryRun) await s.cf.deleteDnsRecord(zone.id, r.id);
  }
  for (const t of devxTunnels) {
    const rules = rulesByTunnel.get(t.id) ?? [];
    const inZone = rules.filter((x) => x.hostname === zoneName || x.hostname!.endsWith(`.${zoneName}`));
    const orphans = inZone.filter((x) => !records.some((r) => r.name === x.hostname && r.content === cnameTarget(t.id)));
    if (!orphans.length) continue;
    for (const o of orphans) items.push({ kind: "ingress", hostname: o.hostname!, reason: `no DNS record points at ${t.name} for it` });
    if (!input.dryRun) {
      const conf = await s.cf.getTunnelConfig(s.accountId, t.id);
      await s.cf.putTunnelConfig(s.accountId, t.id, { ...(conf.config ?? {}), ingress: [...rules.filter((x) => !orphans.includes(x)), CATCH_ALL] });
    }
  }
  // basic-auth Workers whose host lost its devx record (ours were just removed above)
  const routes = (await routesOrUndefined(s, zone.id)) ?? [];
  const remaining = input.dryRun ? records.filter((r) => !items.some((i) => i.kind === "dns" && i.hostname === r.name)) : (await s.cf.listDnsRecords(zone.id, { type: "CNAME" })).filter(isOwned);
  for (const r of routes.filter(isDevxRoute)) {
    const host = r.pattern.replace(/\/\*$/, "");
    if (remaining.some((x) => x.name === host)) continue;
    items.push({ kind: "auth", hostname: host, reason: `no devx DNS record for it (Worker ${r.script})` });
    if (!input.dryRun) {
      await s.cf.deleteWorkerRoute(zone.id, r.id);
      await s.cf.deleteWorker(s.accountId, r.script!);
    }
  }
  return items;
}
