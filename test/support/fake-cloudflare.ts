import { check, checkQuery, operationFor } from "./cloudflare-openapi/validate.ts";
import { catchAllAllowed, validateIngress, workerScript } from "./fake-cloudflare-checks.ts";

/**
 * A local stand-in for the Cloudflare API v4 (127.0.0.1 only), derived from the official OpenAPI
 * description (cloudflare-openapi/operations.json, extracted from github.com/cloudflare/api-schemas):
 * every request's query parameters and JSON body are checked against the documented operation, so a
 * `per_page` out of its documented range or an undocumented field is refused with the API's failure
 * envelope. On top of the description it enforces what the live API does:
 *
 * - lists are paged at `pageSize` (default 2) items, whatever `per_page` asks, so paging code runs;
 * - several zones and several developers' tunnels live in one account;
 * - a tunnel configuration's ingress must end in a catch-all (no hostname, no path), services must be
 *   URLs cloudflared accepts (no path on the origin) or `http_status:NNN`, hostnames must lie in a zone
 *   of the account;
 * - a CNAME to `<id>.cfargotunnel.com` must name a live tunnel of the account; an identical record is
 *   81057, a CNAME beside another record of the name 81053; comments are at most 100 characters;
 * - `rateLimit()` answers 429 with Retry-After once a request budget is spent, and keeps answering 429
 *   until that many seconds have really passed;
 * - `hold()` stops a matching request before it is handled until the test releases it, so two
 *   clients' requests can be interleaved in a chosen order.
 *
 * Known gaps between the description and the live API, followed here: the description marks an
 * ingress rule's hostname as required, but the live API demands a last rule without one (and accepts
 * path-only rules); DELETE operations are described with a JSON body, but the API (and the official
 * SDK) send none.
 *
 *   await using cf = await startFakeCloudflare({ zones: ["example.dev", "other.dev"] });
 *   env.DEVX_CLOUDFLARE_API = cf.url;
 */
export type Permission =
  | "Account:Cloudflare Tunnel:Edit"
  | "Account:Cloudflare Tunnel:Read"
  | "Account:Workers Scripts:Edit"
  | "Account:Workers Scripts:Read"
  | "Zone:Workers Routes:Edit"
  | "Zone:Workers Routes:Read"
  | "Zone:DNS:Edit"
  | "Zone:DNS:Read"
  | "Zone:Zone:Read";

export interface FakeWorker {
  name: string;
  mainModule: string;
  module: string;
  moduleType: string;
  bindings: Array<{ type: string; name: string; text?: string }>;
}

export interface FakeTunnel {
  id: string;
  account_tag: string;
  name: string;
  created_at: string;
  deleted_at: string | null;
  tun_type: "cfd_tunnel";
  status: "inactive" | "healthy" | "down" | "degraded";
  remote_config: boolean;
  config_src: "cloudflare" | "local";
  connections: unknown[];
  metadata: Record<string, unknown>;
}

export interface FakeRecord {
  id: string;
  zone_id: string;
  zone_name: string;
  name: string;
  type: string;
  content: string;
  proxiable: boolean;
  proxied: boolean;
  ttl: number;
  comment: string | null;
  tags: string[];
  created_on: string;
  modified_on: string;
}

export interface Ingress {
  hostname?: string;
  service: string;
  path?: string;
  originRequest?: Record<string, unknown>;
}

export interface FakeConfig {
  version: number;
  created_at: string;
  config: { ingress: Ingress[] } & Record<string, unknown>;
}

export interface HeldRequest {
  method: string;
  path: string;
  query: URLSearchParams;
}

export interface Hold {
  /** resolves when the matching request has arrived and is being held */
  arrived: Promise<HeldRequest>;
  release(): void;
}

export interface FakeCloudflare extends AsyncDisposable {
  url: string;
  token: string;
  accountId: string;
  /** the first zone; `zones` has them all */
  zone: { id: string; name: string };
  zones: Array<{ id: string; name: string }>;
  permissions: Set<Permission>;
  tunnels: Map<string, FakeTunnel>;
  configs: Map<string, FakeConfig>;
  records: Map<string, FakeRecord>;
  workers: Map<string, FakeWorker>;
  routes: Map<string, { id: string; zone_id: string; pattern: string; script: string }>;
  /** every request: method, path with query */
  log: string[];
  /** requests refused because they break the documented contract (query or body) */
  violations: string[];
  /** answer the next request matching method+path with this error */
  failNext(method: string, path: RegExp, status: number, errors: Array<{ code: number; message: string }>): void;
  /** hold the next request `match` accepts until released */
  hold(match: (r: HeldRequest) => boolean): Hold;
  /** after `budget` more requests, answer 429 with Retry-After until `retryAfter` seconds have passed */
  rateLimit(opts: { budget: number; retryAfter: number }): void;
  /** a tunnel made outside devx (a teammate's, the dashboard's), with an optional configuration */
  addTunnel(name: string, opts?: { ingress?: Ingress[]; createdAt?: string }): FakeTunnel;
  /** a DNS record made outside devx; created_on defaults to now */
  addRecord(rec: Partial<FakeRecord> & { name: string; type: string; content: string }): FakeRecord;
  close(): Promise<void>;
}

const hex = () => crypto.randomUUID().replace(/-/g, "");
const now = () => new Date().toISOString();
const COMMENT_MAX = 100; // the Free plan's limit

export async function startFakeCloudflare(opts: { token?: string; accountId?: string; zone?: string; zones?: string[]; permissions?: Permission[]; pageSize?: number } = {}): Promise<FakeCloudflare> {
  const token = opts.token ?? `cf-test-${hex()}`;
  const accountId = opts.accountId ?? hex();
  const zones = (opts.zones ?? [opts.zone ?? "example.dev"]).map((name) => ({ id: hex(), name }));
  const pageSize = opts.pageSize ?? 2;
  const permissions = new Set<Permission>(opts.permissions ?? ["Account:Cloudflare Tunnel:Edit", "Account:Workers Scripts:Edit", "Zone:Workers Routes:Edit", "Zone:DNS:Edit", "Zone:Zone:Read"]);
  const tunnels = new Map<string, FakeTunnel>();
  const configs = new Map<string, FakeConfig>();
  const records = new Map<string, FakeRecord>();
  const workers = new Map<string, FakeWorker>();
  const routes: FakeCloudflare["routes"] = new Map();
  const log: string[] = [];
  const violations: string[] = [];
  const failures: Array<{ method: string; path: RegExp; status: number; errors: Array<{ code: number; message: string }> }> = [];
  const holds: Array<{ match: (r: HeldRequest) => boolean; arrived: (r: HeldRequest) => void; released: Promise<void>; release: () => void }> = [];
  const heldNow = new Set<() => void>();
  let limit: { budget: number; retryAfter: number; left: number; until?: number } | undefined;

  const envelope = (result: unknown, status = 200, info?: Record<string, number>) => Response.json({ success: true, errors: [], messages: [], result, ...(info ? { result_info: info } : {}) }, { status });
  const fail = (status: number, code: number, message: string, headers?: Record<string, string>) => Response.json({ success: false, errors: [{ code, message }], messages: [], result: null }, { status, headers });
  const has = (p: Permission) => permissions.has(p) || (p.endsWith(":Read") && permissions.has(p.replace(/:Read$/, ":Edit") as Permission));
  const denied = () => fail(403, 10000, "Authentication error");
  const zoneOfHost = (host: string) => zones.find((z) => host === z.name || host.endsWith(`.${z.name}`));
  const page = <T>(items: T[], q: URLSearchParams, defaultPer: number) => {
    const per = Math.min(Number(q.get("per_page") ?? defaultPer), pageSize);
    const p = Number(q.get("page") ?? 1);
    const slice = items.slice((p - 1) * per, p * per);
    return envelope(slice, 200, { page: p, per_page: per, count: slice.length, total_count: items.length, total_pages: Math.max(1, Math.ceil(items.length / per)) });
  };
  const ci = (a: string | null | undefined, b: string) => (a ?? "").toLowerCase() === b.toLowerCase();

  async function jsonBody(req: Request, key: string | undefined): Promise<Record<string, unknown> | Response> {
    if (!(req.headers.get("content-type") ?? "").startsWith("application/json")) return fail(400, 6003, "Invalid request headers");
    let b: unknown;
    try {
      b = await req.json();
    } catch {
      return fail(400, 6007, "Malformed JSON in request body");
    }
    if (!b || typeof b !== "object" || Array.isArray(b)) return fail(400, 1001, "Invalid request: body must be an object");
    const op = key ? operationFor(req.method, key) : undefined;
    if (op?.op.body) {
      const schema = key!.endsWith("/configurations") ? catchAllAllowed(op.op.body) : op.op.body;
      const problems = check(schema, b);
      if (problems.length) {
        violations.push(`${req.method} ${key}: ${problems.join("; ")}`);
        return fail(400, 1001, `Invalid request: ${problems.join("; ")}`);
      }
    }
    return b as Record<string, unknown>;
  }

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname.replace(/^\/client\/v4/, "");
    const q = url.searchParams;
    const m = req.method;
    log.push(`${m} ${path}${url.search}`);
    const held = holds.findIndex((h) => h.match({ method: m, path, query: q }));
    if (held >= 0) {
      const [h] = holds.splice(held, 1);
      heldNow.add(h!.release);
      h!.arrived({ method: m, path, query: q });
      await h!.released;
      heldNow.delete(h!.release);
    }
    const auth = req.headers.get("authorization");
    if (!auth) return fail(400, 9106, "Missing X-Auth-Email header");
    if (auth !== `Bearer ${token}`) return fail(400, 1000, "Invalid API Token");
    if (limit) {
      if (limit.until !== undefined && Date.now() >= limit.until) {
        limit.until = undefined;
        limit.left = limit.budget;
      }
      if (limit.until !== undefined || limit.left <= 0) {
        limit.until ??= Date.now() + limit.retryAfter * 1000;
        return fail(429, 971, "Please wait and consider throttling your request speed", { "Retry-After": String(Math.max(1, Math.ceil((limit.until - Date.now()) / 1000))) });
      }
      limit.left--;
    }
    const injected = failures.findIndex((f) => f.method === m && f.path.test(path));
    if (injected >= 0) {
      const [f] = failures.splice(injected, 1);
      return Response.json({ success: false, errors: f!.errors, messages: [], result: null }, { status: f!.status });
    }
    const op = operationFor(m, path);
    if (op) {
      const problems = checkQuery(op.op, q);
      if (problems.length) {
        violations.push(`${m} ${path}: ${problems.join("; ")}`);
        return fail(400, 1001, `Invalid request: ${problems.join("; ")}`);
      }
    }
    let r: RegExpExecArray | null;

    if (path === "/user/tokens/verify" && m === "GET") return envelope({ id: "ed17574386854bf78a67040be0a770b0", status: "active" });

    if (path === "/zones" && m === "GET") {
      if (!has("Zone:Zone:Read")) return denied();
      const all = zones.map((z) => ({ id: z.id, name: z.name, status: "active", paused: false, type: "full", account: { id: accountId, name: "Team account" }, name_servers: ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"] }));
      return page(all.filter((z) => (!q.get("name") || ci(z.name, q.get("name")!)) && (!q.get("account.id") || z.account.id === q.get("account.id"))), q, 20);
    }

    if ((r = /^\/accounts\/([^/]+)\/cfd_tunnel(?:\/([^/]+))?(\/token|\/configurations|\/connections)?$/.exec(path))) {
      const [, acc, id, sub] = r;
      if (acc !== accountId) return fail(403, 10000, "Authentication error");
      if (!has(m !== "GET" ? "Account:Cloudflare Tunnel:Edit" : "Account:Cloudflare Tunnel:Read")) return denied();
      if (!id) {
        if (m === "GET") {
          let list = [...tunnels.values()];
          if (q.get("name")) list = list.filter((t) => t.name === q.get("name"));
          if (q.get("uuid")) list = list.filter((t) => t.id === q.get("uuid"));
          if (q.get("include_prefix")) list = list.filter((t) => t.name.startsWith(q.get("include_prefix")!));
          if (q.get("exclude_prefix")) list = list.filter((t) => !t.name.startsWith(q.get("exclude_prefix")!));
          if (q.get("is_deleted") === "false") list = list.filter((t) => !t.deleted_at);
          if (q.get("is_deleted") === "true") list = list.filter((t) => t.deleted_at);
          return page(list, q, 20);
        }
        if (m === "POST") {
          const b = await jsonBody(req, path);
          if (b instanceof Response) return b;
          if (!b.name) return fail(400, 1001, "Invalid request: name must be a non-empty string");
          if ([...tunnels.values()].some((t) => t.name === b.name && !t.deleted_at)) return fail(409, 1013, "You already have a tunnel with this name.");
          const t = newTunnel(String(b.name), b.config_src === "cloudflare");
          return envelope(t);
        }
        return fail(405, 10405, "Method not allowed");
      }
      const t = tunnels.get(id);
      if (!t || t.deleted_at) return fail(404, 1003, "Tunnel not found");
      if (sub === "/connections" && m === "DELETE") {
        t.connections = [];
        return envelope(null);
      }
      if (sub === "/token" && m === "GET") return envelope(Buffer.from(JSON.stringify({ a: accountId, t: t.id, s: Buffer.from(hex()).toString("base64") })).toString("base64"));
      if (sub === "/configurations") {
        if (!t.remote_config) return fail(400, 1055, "This tunnel is locally managed; its configuration cannot be changed remotely");
        if (m === "GET") {
          const c = configs.get(id);
          return envelope({ account_id: accountId, tunnel_id: id, version: c?.version ?? 0, config: c?.config ?? null, source: "cloudflare", created_at: c?.created_at ?? t.created_at });
        }
        if (m === "PUT") {
          const b = await jsonBody(req, path);
          if (b instanceof Response) return b;
          const cfg = (b.config ?? {}) as FakeConfig["config"];
          const problem = validateIngress(cfg.ingress, (h) => !!zoneOfHost(h));
          if (problem) return fail(400, 1056, `Validation failed: ${problem}`);
          const version = (configs.get(id)?.version ?? 0) + 1;
          const created_at = now();
          configs.set(id, { version, created_at, config: structuredClone(cfg) });
          return envelope({ account_id: accountId, tunnel_id: id, version, config: cfg, source: "cloudflare", created_at });
        }
      }
      if (!sub && m === "GET") return envelope(t);
      if (!sub && m === "DELETE") {
        if (t.connections.length) return fail(400, 1022, "Cannot delete tunnel because it has active connections. Clean up the connections first.");
        t.deleted_at = now();
        configs.delete(id);
        return envelope(t);
      }
      return fail(405, 10405, "Method not allowed");
    }

    if ((r = /^\/zones\/([^/]+)\/dns_records(?:\/([^/]+))?$/.exec(path))) {
      const [, zid, rid] = r;
      const zone = zones.find((z) => z.id === zid);
      if (!zone) return fail(404, 7003, "Could not route to /zones/" + zid + "/dns_records, perhaps your object identifier is invalid?");
      if (!has(m === "GET" ? "Zone:DNS:Read" : "Zone:DNS:Edit")) return denied();
      const inZone = [...records.values()].filter((x) => x.zone_id === zid);
      if (!rid && m === "GET") {
        const name = q.get("name.exact") ?? q.get("name");
        const content = q.get("content.exact") ?? q.get("content");
        const list = inZone.filter(
          (x) =>
            (!q.get("type") || x.type === q.get("type")) &&
            (!name || ci(x.name, name)) &&
            (!content || ci(x.content, content)) &&
            (!q.get("comment.startswith") || (x.comment ?? "").toLowerCase().startsWith(q.get("comment.startswith")!.toLowerCase())) &&
            (!q.get("comment.exact") || ci(x.comment, q.get("comment.exact")!)),
        );
        return page(list, q, 100);
      }
      if (!rid && m === "POST") {
        const b = await jsonBody(req, path);
        if (b instanceof Response) return b;
        const name = String(b.name).toLowerCase();
        const content = String(b.content).toLowerCase();
        if (name !== zone.name && !name.endsWith(`.${zone.name}`)) return fail(400, 9005, "Content for CNAME record is invalid: name is outside the zone");
        if (typeof b.comment === "string" && b.comment.length > COMMENT_MAX) return fail(400, 9102, `DNS record comment is too long (max ${COMMENT_MAX} characters on this plan)`);
        if (content === name) return fail(400, 9007, "Content for CNAME record is invalid: it must not match the record's name");
        const tunnelTarget = /^([0-9a-f-]{36})\.cfargotunnel\.com$/.exec(content);
        if (content.endsWith(".cfargotunnel.com") && !(tunnelTarget && tunnels.get(tunnelTarget[1]!) && !tunnels.get(tunnelTarget[1]!)!.deleted_at)) return fail(400, 9007, "Content for CNAME record is invalid: no such tunnel in this account");
        if (inZone.some((x) => x.name === name && x.type === b.type && x.content === content)) return fail(400, 81057, "Record already exists.");
        if (inZone.some((x) => x.name === name)) return fail(400, 81053, "An A, AAAA, or CNAME record with that host already exists.");
        const rec: FakeRecord = { id: hex(), zone_id: zone.id, zone_name: zone.name, name, type: String(b.type), content, proxiable: true, proxied: b.proxied === true, ttl: Number(b.ttl ?? 1), comment: (b.comment as string) ?? null, tags: (b.tags as string[]) ?? [], created_on: now(), modified_on: now() };
        records.set(rec.id, rec);
        return envelope(rec);
      }
      if (rid && m === "DELETE") {
        if (records.get(rid)?.zone_id !== zid || !records.delete(rid)) return fail(404, 81044, "Record does not exist.");
        return envelope({ id: rid });
      }
      return fail(405, 10405, "Method not allowed");
    }

    if ((r = /^\/accounts\/([^/]+)\/workers\/scripts\/([^/]+)$/.exec(path))) {
      if (r[1] !== accountId) return denied();
      return workerScript(req, r[2]!, { allowed: (w) => has(w ? "Account:Workers Scripts:Edit" : "Account:Workers Scripts:Read"), workers, envelope, fail });
    }

    if ((r = /^\/zones\/([^/]+)\/workers\/routes(?:\/([^/]+))?$/.exec(path))) {
      const [, zid, rid] = r;
      const zone = zones.find((z) => z.id === zid);
      if (!zone) return fail(404, 7003, "Could not route to /zones/" + zid + "/workers/routes");
      if (!has(m === "GET" ? "Zone:Workers Routes:Read" : "Zone:Workers Routes:Edit")) return denied();
      if (!rid && m === "GET") return envelope([...routes.values()].filter((x) => x.zone_id === zid).map(({ zone_id: _, ...x }) => x));
      if (!rid && m === "POST") {
        const b = await jsonBody(req, path);
        if (b instanceof Response) return b;
        const pattern = String(b.pattern);
        if (!pattern.endsWith(`.${zone.name}/*`) && !pattern.startsWith(`${zone.name}/`)) return fail(400, 10022, "Route pattern must be on this zone");
        if ([...routes.values()].some((x) => x.pattern === pattern)) return fail(409, 10020, "A route with the same pattern already exists.");
        if (b.script !== undefined && !workers.has(String(b.script))) return fail(400, 10019, "Worker script not found.");
        const route = { id: hex(), zone_id: zone.id, pattern, script: String(b.script) };
        routes.set(route.id, route);
        return envelope({ id: route.id, pattern, script: route.script });
      }
      if (rid && m === "DELETE") {
        if (!routes.delete(rid)) return fail(404, 10005, "Route not found.");
        return envelope({ id: rid });
      }
      return fail(405, 10405, "Method not allowed");
    }
    return fail(404, 7003, `Could not route to ${path}, perhaps your object identifier is invalid?`);
  }

  function newTunnel(name: string, remote: boolean, createdAt = now()): FakeTunnel {
    const t: FakeTunnel = { id: crypto.randomUUID(), account_tag: accountId, name, created_at: createdAt, deleted_at: null, tun_type: "cfd_tunnel", status: "inactive", remote_config: remote, config_src: remote ? "cloudflare" : "local", connections: [], metadata: {} };
    tunnels.set(t.id, t);
    return t;
  }

  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handle });
  const close = async () => {
    for (const release of heldNow) release();
    await server.stop(true);
  };
  return {
    url: `http://127.0.0.1:${server.port}/client/v4`,
    token,
    accountId,
    zone: zones[0]!,
    zones,
    permissions,
    tunnels,
    configs,
    records,
    workers,
    routes,
    log,
    violations,
    failNext: (method, path, status, errors) => void failures.push({ method, path, status, errors }),
    hold(match) {
      let release!: () => void;
      let arrived!: (r: HeldRequest) => void;
      const released = new Promise<void>((res) => (release = res));
      const arrivedP = new Promise<HeldRequest>((res) => (arrived = res));
      holds.push({ match, arrived, released, release });
      return { arrived: arrivedP, release };
    },
    rateLimit: ({ budget, retryAfter }) => void (limit = { budget, retryAfter, left: budget }),
    addTunnel(name, o = {}) {
      const t = newTunnel(name, true, o.createdAt);
      if (o.ingress) configs.set(t.id, { version: 1, created_at: o.createdAt ?? now(), config: { ingress: o.ingress } });
      return t;
    },
    addRecord(rec) {
      const zone = zoneOfHost(rec.name) ?? zones[0]!;
      const full: FakeRecord = { id: hex(), zone_id: zone.id, zone_name: zone.name, proxiable: true, proxied: true, ttl: 1, comment: null, tags: [], created_on: now(), modified_on: now(), ...rec };
      records.set(full.id, full);
      return full;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

