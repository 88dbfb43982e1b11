import { plural } from "../../events/format.ts";
import { ConflictError, NotFoundError, PermissionError, UsageError } from "../../errors.ts";
import type { CoreDeps } from "../deps.ts";
import { DnsRecordExistsError, type DnsRecord, type IngressRule, type WorkerRoute, type Zone } from "../../../providers/cloudflare/client.ts";
import { BASIC_AUTH_BINDING, BASIC_AUTH_WORKER, credentialDigest, workerNameFor } from "../../../providers/cloudflare/basic-auth.ts";
import { cloudflareSetup, findVmTunnel, isDevxRecord, ownerComment, recordHasAuth, requireVmTunnel, type CloudflareSetup } from "./setup.ts";
import { isCatchAll, sameRule, updateIngress, withRule, withoutRules, type IngressTarget } from "./ingress.ts";
import { readJournal, updateJournal } from "./local-state.ts";
import { withTunnelLock } from "./lock.ts";

/**
 * Exposures live at Cloudflare, not in a local file: an ingress rule in the VM tunnel's remotely
 * managed configuration plus a proxied CNAME `<name>.<zone>` → `<tunnel-id>.cfargotunnel.com`
 * whose comment marks it as devx's and names the developer. cloudflared picks up configuration
 * changes live. Every change to the configuration runs under the tunnel's lock (lock.ts) and is
 * verified by reading it back (ingress.ts).
 */
export { CATCH_ALL } from "./ingress.ts";
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
  /** "basic": a devx basic-auth Worker guards the host; "unknown" for a rule devx did not make */
  auth: "none" | "basic" | "unknown";
}

export const cnameTarget = (tunnelId: string) => `${tunnelId}.cfargotunnel.com`;
const portOf = (service?: string) => {
  const m = /:(\d+)\/?$/.exec(service ?? "");
  return m ? Number(m[1]) : undefined;
};

export function zoneOf(s: CloudflareSetup, domain?: string): string {
  const z = domain ?? s.zone;
  if (!z) throw new UsageError("no domain to expose under", "pass --domain example.com, or set vm.cloudflare.zone in devx.yaml");
  return z.replace(/\.$/, "").toLowerCase();
}

/**
 * The default label: VM, port and the developer's owner id, so teammates who share an account (and
 * a VM name) never get the same host name. At most 63 characters, one DNS label.
 */
export function defaultLabel(s: Pick<CloudflareSetup, "vmName" | "owner">, port: number): string {
  return `${s.vmName}-${port}-${s.owner}`.toLowerCase().replace(/[^a-z0-9-]+/g, "-").slice(0, 63).replace(/^-+|-+$/g, "");
}

export interface ExposeInput {
  port: number;
  name?: string;
  domain?: string;
  vmName?: string;
  basicAuth?: { user: string; password: string };
  dryRun?: boolean;
}

export const routePattern = (hostname: string) => `${hostname}/*`;
export const isDevxRoute = (r: WorkerRoute) => (r.script ?? "").startsWith("devx-auth-");

export const ingressTarget = (deps: CoreDeps, s: CloudflareSetup, tunnelId: string): IngressTarget => ({ cf: s.cf, accountId: s.accountId, tunnelId, emit: deps.emit });

/** devx's CNAMEs for `hostname` that point at the tunnel. */
async function ourRecords(s: CloudflareSetup, zone: Zone, hostname: string, tunnelId: string): Promise<{ ours: DnsRecord[]; foreign: DnsRecord[] }> {
  const existing = (await s.cf.listDnsRecords(zone.id, { name: hostname })).filter((r) => r.name.toLowerCase() === hostname);
  const ours = existing.filter((r) => r.type === "CNAME" && r.content.toLowerCase() === cnameTarget(tunnelId) && isDevxRecord(r));
  return { ours, foreign: existing.filter((r) => !ours.includes(r)) };
}

export async function expose(deps: CoreDeps, input: ExposeInput, setup?: CloudflareSetup): Promise<Exposure> {
  const s = setup ?? (await cloudflareSetup(deps, { name: input.vmName }));
  const label = (input.name ?? defaultLabel(s, input.port)).toLowerCase();
  // one level under the zone: Universal SSL covers *.zone but not *.*.zone
  if (!LABEL.test(label)) throw new UsageError(`"${label}" is not a single DNS label`, "use letters, digits and dashes, no dots: the host name stays one level under the zone so Universal SSL covers it");
  const zoneName = zoneOf(s, input.domain);
  const hostname = `${label}.${zoneName}`;
  const rule: IngressRule = { hostname, service: `http://localhost:${input.port}` };
  const tunnel = await requireVmTunnel(s, deps.env);
  const zone = await s.cf.findZone(zoneName);
  const t = ingressTarget(deps, s, tunnel.id);
  const conflict = (rules: IngressRule[]) => rules.find((r) => r.hostname === hostname && !sameRule(r, rule));
  const result = (auth: Exposure["auth"]): Exposure => ({ name: label, hostname, url: `https://${hostname}`, service: rule.service, port: input.port, live: true, ingress: true, dns: true, auth });

  if (input.dryRun) {
    const { ours, foreign } = await ourRecords(s, zone, hostname, tunnel.id);
    if (foreign.length) throw foreignRecord(hostname, foreign);
    const rules = (await s.cf.getTunnelConfig(s.accountId, tunnel.id)).config?.ingress ?? [];
    const other = conflict(rules);
    if (other) throw new ConflictError(`${hostname} already routes to ${other.service}`, `run \`devx tunnel unexpose ${label}\` first`);
    const routed = rules.some((r) => sameRule(r, rule));
    const plan = [
      ...(routed ? [] : [`PUT /accounts/${s.accountId}/cfd_tunnel/${tunnel.id}/configurations (add ${hostname} → ${rule.service}, keep the ${plural(rules.length, "rule")} there${rules.some(isCatchAll) ? "" : " and add the 404 catch-all"})`]),
      ...(input.basicAuth ? [`PUT /accounts/${s.accountId}/workers/scripts/${workerNameFor(hostname)} (basic-auth Worker)`, `POST /zones/${zone.id}/workers/routes (${routePattern(hostname)})`] : []),
      ...(ours.length ? [] : [`POST /zones/${zone.id}/dns_records (CNAME ${hostname} → ${cnameTarget(tunnel.id)}, proxied)`]),
    ];
    return { ...result(input.basicAuth ? "basic" : "none"), live: routed && ours.length > 0, ingress: routed, dns: ours.length > 0, plan };
  }

  return withTunnelLock(deps, tunnel.id, `tunnel expose ${label}`, async () => {
    const { ours, foreign } = await ourRecords(s, zone, hostname, tunnel.id);
    if (foreign.length) throw foreignRecord(hostname, foreign);
    // what this command created, and only that, is taken back if a later step fails
    const undo: Array<() => Promise<unknown>> = [];
    try {
      deps.emit({ type: "step", id: "ingress", title: `route ${hostname} → ${rule.service}`, status: "started" });
      // the journal first: a crash after the write still leaves the rule marked as devx's
      const journal = await readJournal(s.state, tunnel.id);
      const hadEntry = journal.rules[hostname];
      await updateJournal(s.state, tunnel.id, (j) => void (j.rules[hostname] = { service: rule.service, addedAt: hadEntry?.service === rule.service ? hadEntry.addedAt : Date.now(), basicAuth: !!input.basicAuth || hadEntry?.basicAuth }));
      undo.push(() => updateJournal(s.state, tunnel.id, (j) => void (hadEntry ? (j.rules[hostname] = hadEntry) : delete j.rules[hostname])));
      const added = await updateIngress(
        t,
        (rules) => {
          const other = conflict(rules);
          if (other) throw new ConflictError(`${hostname} already routes to ${other.service}`, `run \`devx tunnel unexpose ${label}\` first`);
          return rules.some((r) => sameRule(r, rule)) ? undefined : withRule(rules, rule);
        },
        (rules) => rules.some((r) => sameRule(r, rule)),
        `add ${hostname}`,
      );
      if (!added.before.some((r) => sameRule(r, rule))) undo.push(() => updateIngress(t, (rules) => (rules.some((r) => sameRule(r, rule)) ? withoutRules(rules, (r) => sameRule(r, rule)) : undefined), (rules) => !rules.some((r) => sameRule(r, rule)), `take back ${hostname}`));
      deps.emit({ type: "step", id: "ingress", title: `route ${hostname} → ${rule.service}`, status: "done" });

      let auth: Exposure["auth"] = ours.some(recordHasAuth) ? "basic" : "none";
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
      }
      if (!ours.length) {
        deps.emit({ type: "step", id: "dns", title: `CNAME ${hostname} (proxied)`, status: "started" });
        const rec = await createRecord(s, zone, hostname, tunnel.id, !!input.basicAuth);
        if (rec) undo.push(() => s.cf.deleteDnsRecord(zone.id, rec.id));
        deps.emit({ type: "step", id: "dns", title: `CNAME ${hostname} (proxied)`, status: "done" });
      }
      // the URL is reported only while Cloudflare routes it: a writer elsewhere may have dropped the rule meanwhile
      await updateIngress(t, (rules) => (rules.some((r) => sameRule(r, rule)) ? undefined : withRule(rules, rule)), (rules) => rules.some((r) => sameRule(r, rule)), `keep ${hostname}`);
      return result(auth);
    } catch (e) {
      for (const u of undo.reverse()) await u().catch(() => {});
      throw e;
    }
  });
}

function foreignRecord(hostname: string, foreign: DnsRecord[]): ConflictError {
  return new ConflictError(`${hostname} already has a DNS record (${foreign.map((r) => `${r.type} → ${r.content}`).join(", ")}) that devx did not create for this tunnel`, "choose another --name, or remove that record at Cloudflare first");
}

/**
 * Create devx's CNAME. An "identical record exists" answer (81057) after a retried POST whose first
 * answer was lost means the record is there: it is used, not created, so it is not undone.
 */
async function createRecord(s: CloudflareSetup, zone: Zone, hostname: string, tunnelId: string, basicAuth: boolean): Promise<DnsRecord | undefined> {
  try {
    return await s.cf.createDnsRecord(zone.id, { type: "CNAME", name: hostname, content: cnameTarget(tunnelId), proxied: true, ttl: 1, comment: ownerComment(s.owner, s.vmName, basicAuth) });
  } catch (e) {
    if (!(e instanceof DnsRecordExistsError && e.identical)) throw e;
    const { ours } = await ourRecords(s, zone, hostname, tunnelId);
    if (!ours.length) throw e;
    return undefined;
  }
}

export async function unexpose(deps: CoreDeps, input: { name: string; domain?: string; vmName?: string; dryRun?: boolean }, setup?: CloudflareSetup): Promise<{ hostname: string; removedIngress: boolean; removedDns: boolean; plan?: string[] }> {
  const s = setup ?? (await cloudflareSetup(deps, { name: input.vmName }));
  const zoneName = zoneOf(s, input.domain);
  const hostname = input.name.includes(".") ? input.name.toLowerCase() : `${input.name.toLowerCase()}.${zoneName}`;
  const tunnel = await requireVmTunnel(s, deps.env);
  const zone = await s.cf.findZone(zoneName);
  const notExposed = () => new NotFoundError(`${hostname} is not exposed through ${tunnel.name}`, "run `devx tunnel list` to see what is");
  const guardsOf = async (records: DnsRecord[]) => {
    const journal = await readJournal(s.state, tunnel.id);
    // Worker routes need a permission only --basic-auth asks for: read them only for a guarded host
    if (!records.some(recordHasAuth) && !journal.rules[hostname]?.basicAuth) return [];
    return ((await routesOrUndefined(s, zone.id)) ?? []).filter((r) => r.pattern === routePattern(hostname) && isDevxRoute(r));
  };

  if (input.dryRun) {
    const { ours } = await ourRecords(s, zone, hostname, tunnel.id);
    const routed = ((await s.cf.getTunnelConfig(s.accountId, tunnel.id)).config?.ingress ?? []).some((r) => r.hostname === hostname);
    if (!routed && ours.length === 0) throw notExposed();
    const guards = await guardsOf(ours);
    const plan = [
      ...ours.map((r) => `DELETE /zones/${zone.id}/dns_records/${r.id} (CNAME ${hostname})`),
      ...(routed ? [`PUT /accounts/${s.accountId}/cfd_tunnel/${tunnel.id}/configurations (without ${hostname})`] : []),
      ...guards.flatMap((g) => [`DELETE /zones/${zone.id}/workers/routes/${g.id}`, `DELETE /accounts/${s.accountId}/workers/scripts/${g.script}`]),
    ];
    return { hostname, removedIngress: false, removedDns: false, plan };
  }

  return withTunnelLock(deps, tunnel.id, `tunnel unexpose ${hostname}`, async () => {
    // the public name goes first, the guard last: the host is never reachable without its auth
    const { ours } = await ourRecords(s, zone, hostname, tunnel.id);
    const guards = await guardsOf(ours);
    for (const r of ours) await s.cf.deleteDnsRecord(zone.id, r.id);
    const update = await updateIngress(
      ingressTarget(deps, s, tunnel.id),
      (rules) => (rules.some((r) => r.hostname === hostname) ? withoutRules(rules, (r) => r.hostname === hostname) : undefined),
      (rules) => !rules.some((r) => r.hostname === hostname),
      `remove ${hostname}`,
    );
    const removedIngress = update.before.some((r) => r.hostname === hostname);
    await updateJournal(s.state, tunnel.id, (j) => void delete j.rules[hostname]);
    for (const g of guards) {
      await s.cf.deleteWorkerRoute(zone.id, g.id);
      await s.cf.deleteWorker(s.accountId, g.script!);
    }
    if (!removedIngress && ours.length === 0) throw notExposed();
    return { hostname, removedIngress, removedDns: ours.length > 0 };
  });
}

/** Worker routes, or undefined when the token may not read them (basic auth is optional). */
export async function routesOrUndefined(s: CloudflareSetup, zoneId: string): Promise<WorkerRoute[] | undefined> {
  try {
    return await s.cf.listWorkerRoutes(zoneId);
  } catch (e) {
    if (e instanceof PermissionError) return undefined;
    throw e;
  }
}

/**
 * What is live at Cloudflare for this VM's tunnel: its ingress rules with a hostname, joined with
 * the CNAMEs pointing at it (one filtered query, not a walk through every CNAME of the zone).
 */
export async function listTunnels(deps: CoreDeps, input: { domain?: string; vmName?: string } = {}, setup?: CloudflareSetup): Promise<{ tunnel?: { id: string; name: string; status?: string }; exposures: Exposure[] }> {
  const s = setup ?? (await cloudflareSetup(deps, { name: input.vmName }));
  const tunnel = await findVmTunnel(s, { adoptLegacy: true, env: deps.env });
  if (!tunnel) return { exposures: [] };
  const rules = ((await s.cf.getTunnelConfig(s.accountId, tunnel.id)).config?.ingress ?? []).filter((r) => r.hostname);
  const zoneName = input.domain ?? s.zone;
  const zone = zoneName ? await s.cf.findZone(zoneName) : undefined;
  const records = zone ? (await s.cf.listDnsRecords(zone.id, { type: "CNAME", content: cnameTarget(tunnel.id) })).filter((r) => r.content.toLowerCase() === cnameTarget(tunnel.id)) : [];
  const journal = await readJournal(s.state, tunnel.id);
  const hosts = new Set([...rules.map((r) => r.hostname!), ...records.map((r) => r.name)]);
  const exposures = [...hosts].sort().map((hostname): Exposure => {
    const rule = rules.find((r) => r.hostname === hostname);
    const record = records.find((r) => r.name === hostname);
    const devx = (record && isDevxRecord(record)) || journal.rules[hostname] !== undefined;
    const auth = (record && recordHasAuth(record)) || journal.rules[hostname]?.basicAuth ? "basic" : devx ? "none" : "unknown";
    return { name: hostname.split(".")[0]!, hostname, url: `https://${hostname}`, service: rule?.service, port: portOf(rule?.service), ingress: !!rule, dns: !!record, live: !!rule && !!record, auth };
  });
  return { tunnel: { id: tunnel.id, name: tunnel.name, status: tunnel.status }, exposures };
}
