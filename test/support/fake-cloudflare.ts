/**
 * A local stand-in for the Cloudflare API v4 (127.0.0.1 only) covering what devx uses:
 * user/tokens/verify, zones?name=, accounts/{a}/cfd_tunnel (list/create/get/delete/token),
 * accounts/{a}/cfd_tunnel/{t}/configurations (GET/PUT), zones/{z}/dns_records (list/create/delete).
 * Responses use the v4 envelope; requests are checked strictly (Bearer token, JSON body shapes,
 * unknown fields, the ingress catch-all rule) and answered with Cloudflare's error codes. Token
 * permissions are modelled, so a missing "Zone:DNS:Edit" fails the way the real API does.
 *
 *   await using cf = await startFakeCloudflare();
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

interface Ingress {
  hostname?: string;
  service: string;
  path?: string;
  originRequest?: Record<string, unknown>;
}

export interface FakeCloudflare extends AsyncDisposable {
  url: string;
  token: string;
  accountId: string;
  zone: { id: string; name: string };
  permissions: Set<Permission>;
  tunnels: Map<string, FakeTunnel>;
  configs: Map<string, { version: number; config: { ingress: Ingress[] } & Record<string, unknown> }>;
  records: Map<string, FakeRecord>;
  workers: Map<string, FakeWorker>;
  routes: Map<string, { id: string; pattern: string; script: string }>;
  /** every request: method, path with query */
  log: string[];
  /** answer the next request matching method+path with this error */
  failNext(method: string, path: RegExp, status: number, errors: Array<{ code: number; message: string }>): void;
  close(): Promise<void>;
}

const hex = () => crypto.randomUUID().replace(/-/g, "");
const now = () => new Date().toISOString();

export async function startFakeCloudflare(opts: { token?: string; accountId?: string; zone?: string; permissions?: Permission[] } = {}): Promise<FakeCloudflare> {
  const token = opts.token ?? `cf-test-${hex()}`;
  const accountId = opts.accountId ?? hex();
  const zone = { id: hex(), name: opts.zone ?? "example.dev" };
  const permissions = new Set<Permission>(opts.permissions ?? ["Account:Cloudflare Tunnel:Edit", "Account:Workers Scripts:Edit", "Zone:Workers Routes:Edit", "Zone:DNS:Edit", "Zone:Zone:Read"]);
  const tunnels = new Map<string, FakeTunnel>();
  const configs: FakeCloudflare["configs"] = new Map();
  const records = new Map<string, FakeRecord>();
  const workers = new Map<string, FakeWorker>();
  const routes = new Map<string, { id: string; pattern: string; script: string }>();
  const log: string[] = [];
  const failures: Array<{ method: string; path: RegExp; status: number; errors: Array<{ code: number; message: string }> }> = [];

  const envelope = (result: unknown, status = 200, info?: Record<string, number>) => Response.json({ success: true, errors: [], messages: [], result, ...(info ? { result_info: info } : {}) }, { status });
  const fail = (status: number, code: number, message: string) => Response.json({ success: false, errors: [{ code, message }], messages: [], result: null }, { status });
  const has = (p: Permission) => permissions.has(p) || (p.endsWith(":Read") && permissions.has(p.replace(/:Read$/, ":Edit") as Permission));
  const denied = () => fail(403, 10000, "Authentication error");
  const page = <T>(items: T[], q: URLSearchParams) => {
    const per = Math.min(Number(q.get("per_page") ?? 20), 1000);
    const p = Math.max(1, Number(q.get("page") ?? 1));
    const slice = items.slice((p - 1) * per, p * per);
    return envelope(slice, 200, { page: p, per_page: per, count: slice.length, total_count: items.length, total_pages: Math.max(1, Math.ceil(items.length / per)) });
  };
  async function body(req: Request, allowed: string[], required: string[]): Promise<Record<string, unknown> | Response> {
    if (req.headers.get("content-type") !== "application/json") return fail(400, 6003, "Invalid request headers");
    let b: unknown;
    try {
      b = await req.json();
    } catch {
      return fail(400, 6007, "Malformed JSON in request body");
    }
    if (!b || typeof b !== "object" || Array.isArray(b)) return fail(400, 1001, "Invalid request: body must be an object");
    const extra = Object.keys(b).filter((k) => !allowed.includes(k));
    if (extra.length) return fail(400, 1001, `Invalid request: unknown field(s) ${extra.join(", ")}`);
    const miss = required.filter((k) => (b as Record<string, unknown>)[k] === undefined);
    if (miss.length) return fail(400, 1001, `Invalid request: missing field(s) ${miss.join(", ")}`);
    return b as Record<string, unknown>;
  }

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname.replace(/^\/client\/v4/, "");
    const q = url.searchParams;
    const m = req.method;
    log.push(`${m} ${path}${url.search}`);
    const auth = req.headers.get("authorization");
    if (!auth) return fail(400, 9106, "Missing X-Auth-Email header");
    if (auth !== `Bearer ${token}`) return fail(400, 1000, "Invalid API Token");
    const injected = failures.findIndex((f) => f.method === m && f.path.test(path));
    if (injected >= 0) {
      const [f] = failures.splice(injected, 1);
      return Response.json({ success: false, errors: f!.errors, messages: [], result: null }, { status: f!.status });
    }
    let r: RegExpExecArray | null;

    if (path === "/user/tokens/verify" && m === "GET") return envelope({ id: "ed17574386854bf78a67040be0a770b0", status: "active" });

    if (path === "/zones" && m === "GET") {
      if (!has("Zone:Zone:Read")) return denied();
      const all = [{ id: zone.id, name: zone.name, status: "active", paused: false, type: "full", account: { id: accountId, name: "Dev's Account" }, name_servers: ["ada.ns.cloudflare.com", "bob.ns.cloudflare.com"] }];
      return page(all.filter((z) => !q.get("name") || z.name === q.get("name")), q);
    }

    if ((r = /^\/accounts\/([^/]+)\/cfd_tunnel(?:\/([^/]+))?(\/token|\/configurations|\/connections)?$/.exec(path))) {
      const [, acc, id, sub] = r;
      if (acc !== accountId) return fail(403, 10000, "Authentication error");
      const write = m !== "GET";
      if (!has(write ? "Account:Cloudflare Tunnel:Edit" : "Account:Cloudflare Tunnel:Read")) return denied();
      if (!id) {
        if (m === "GET") {
          let list = [...tunnels.values()];
          if (q.get("name")) list = list.filter((t) => t.name === q.get("name"));
          if (q.get("is_deleted") === "false") list = list.filter((t) => !t.deleted_at);
          return page(list, q);
        }
        if (m === "POST") {
          const b = await body(req, ["name", "config_src", "tunnel_secret"], ["name"]);
          if (b instanceof Response) return b;
          if (typeof b.name !== "string" || !b.name) return fail(400, 1001, "Invalid request: name must be a non-empty string");
          if (b.config_src !== undefined && b.config_src !== "cloudflare" && b.config_src !== "local") return fail(400, 1001, "Invalid request: config_src must be cloudflare or local");
          if ([...tunnels.values()].some((t) => t.name === b.name && !t.deleted_at)) return fail(409, 1013, "You already have a tunnel with this name.");
          const t: FakeTunnel = { id: crypto.randomUUID(), account_tag: accountId, name: b.name, created_at: now(), deleted_at: null, tun_type: "cfd_tunnel", status: "inactive", remote_config: b.config_src === "cloudflare", config_src: (b.config_src as "cloudflare") ?? "local", connections: [], metadata: {} };
          tunnels.set(t.id, t);
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
          return envelope({ account_id: accountId, tunnel_id: id, version: c?.version ?? 0, config: c?.config ?? null, source: "cloudflare", created_at: now() });
        }
        if (m === "PUT") {
          const b = await body(req, ["config"], ["config"]);
          if (b instanceof Response) return b;
          const cfg = b.config as { ingress?: Ingress[] };
          const ingress = cfg.ingress ?? [];
          if (!Array.isArray(ingress) || ingress.length === 0) return fail(400, 1056, "Validation failed: config.ingress must have at least one rule");
          if (ingress.some((x) => typeof x.service !== "string")) return fail(400, 1056, "Validation failed: every ingress rule needs a service");
          const last = ingress[ingress.length - 1]!;
          if (last.hostname !== undefined || last.path !== undefined) return fail(400, 1056, "Validation failed: The last ingress rule must match all URLs (i.e. it should not have a hostname or path filter)");
          if (ingress.slice(0, -1).some((x) => !x.hostname)) return fail(400, 1056, "Validation failed: only the last ingress rule may match all URLs");
          const hosts = ingress.filter((x) => x.hostname).map((x) => x.hostname);
          if (new Set(hosts).size !== hosts.length) return fail(400, 1056, "Validation failed: duplicate hostname in ingress rules");
          const version = (configs.get(id)?.version ?? 0) + 1;
          configs.set(id, { version, config: cfg as { ingress: Ingress[] } });
          return envelope({ account_id: accountId, tunnel_id: id, version, config: cfg, source: "cloudflare", created_at: now() });
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
      if (zid !== zone.id) return fail(404, 7003, "Could not route to /zones/" + zid + "/dns_records, perhaps your object identifier is invalid?");
      if (!has(m === "GET" ? "Zone:DNS:Read" : "Zone:DNS:Edit")) return denied();
      if (!rid && m === "GET") {
        let list = [...records.values()];
        if (q.get("type")) list = list.filter((x) => x.type === q.get("type"));
        if (q.get("name")) list = list.filter((x) => x.name === q.get("name"));
        return page(list, q);
      }
      if (!rid && m === "POST") {
        const b = await body(req, ["type", "name", "content", "proxied", "ttl", "comment", "tags"], ["type", "name", "content"]);
        if (b instanceof Response) return b;
        const name = String(b.name).toLowerCase();
        if (name !== zone.name && !name.endsWith(`.${zone.name}`)) return fail(400, 9005, "Content for CNAME record is invalid: name is outside the zone");
        if (typeof b.comment === "string" && b.comment.length > 100) return fail(400, 9102, "DNS record comment is too long (max 100 characters on this plan)");
        if (b.proxied !== undefined && typeof b.proxied !== "boolean") return fail(400, 9003, "Invalid 'proxied' value, must be a boolean");
        if (b.type === "CNAME" && [...records.values()].some((x) => x.name === name)) return fail(400, 81053, "An A, AAAA, or CNAME record with that host already exists.");
        const rec: FakeRecord = { id: hex(), zone_id: zone.id, zone_name: zone.name, name, type: String(b.type), content: String(b.content), proxiable: true, proxied: b.proxied === true, ttl: Number(b.ttl ?? 1), comment: (b.comment as string) ?? null, tags: (b.tags as string[]) ?? [], created_on: now(), modified_on: now() };
        records.set(rec.id, rec);
        return envelope(rec);
      }
      if (rid && m === "DELETE") {
        if (!records.delete(rid)) return fail(404, 81044, "Record does not exist.");
        return envelope({ id: rid });
      }
      return fail(405, 10405, "Method not allowed");
    }

    if ((r = /^\/accounts\/([^/]+)\/workers\/scripts\/([^/]+)$/.exec(path))) {
      const acc = r[1];
      const name = r[2]!;
      if (acc !== accountId) return denied();
      if (!has(m === "GET" ? "Account:Workers Scripts:Read" : "Account:Workers Scripts:Edit")) return denied();
      if (m === "PUT") {
        if (!(req.headers.get("content-type") ?? "").startsWith("multipart/form-data")) return fail(400, 10021, "Uploaded scripts must be multipart/form-data with a metadata part");
        // the part's own Content-Type header, as sent (the parsed form guesses it from the file name)
        const raw = await req.clone().text();
        const form = await req.formData();
        const metaPart = form.get("metadata");
        if (!metaPart || typeof metaPart === "string") return fail(400, 10021, "metadata part missing");
        let meta: { main_module?: string; bindings?: FakeWorker["bindings"]; compatibility_date?: string };
        try {
          meta = JSON.parse(await (metaPart as Blob).text());
        } catch {
          return fail(400, 10021, "metadata is not JSON");
        }
        const mod = meta.main_module ? form.get(meta.main_module) : null;
        if (!mod || typeof mod === "string") return fail(400, 10021, "No such module: main_module must name an uploaded part");
        if (!Array.isArray(meta.bindings ?? []) || (meta.bindings ?? []).some((b) => !b.type || !b.name)) return fail(400, 10021, "bindings must be a list of {type, name}");
        const partType = new RegExp(`Content-Disposition: form-data; name="${meta.main_module!.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"[^\r\n]*\r\nContent-Type: ([^\r\n]+)`).exec(raw)?.[1] ?? "";
        if (partType !== "application/javascript+module") return fail(400, 10021, `main_module must be sent as application/javascript+module, got "${partType}"`);
        workers.set(name, { name, mainModule: meta.main_module!, module: await (mod as Blob).text(), moduleType: partType, bindings: meta.bindings ?? [] });
        return envelope({ id: name, etag: hex(), created_on: now(), modified_on: now() });
      }
      if (m === "DELETE") {
        if (!workers.delete(name)) return fail(404, 10007, "This Worker does not exist on your account.");
        return envelope(null);
      }
      return fail(405, 10405, "Method not allowed");
    }

    if ((r = /^\/zones\/([^/]+)\/workers\/routes(?:\/([^/]+))?$/.exec(path))) {
      const [, zid, rid] = r;
      if (zid !== zone.id) return fail(404, 7003, "Could not route to /zones/" + zid + "/workers/routes");
      if (!has(m === "GET" ? "Zone:Workers Routes:Read" : "Zone:Workers Routes:Edit")) return denied();
      if (!rid && m === "GET") return envelope([...routes.values()]);
      if (!rid && m === "POST") {
        const b = await body(req, ["pattern", "script"], ["pattern"]);
        if (b instanceof Response) return b;
        const pattern = String(b.pattern);
        if (!pattern.endsWith(`.${zone.name}/*`) && !pattern.startsWith(`${zone.name}/`)) return fail(400, 10022, "Route pattern must be on this zone");
        if ([...routes.values()].some((x) => x.pattern === pattern)) return fail(409, 10020, "A route with the same pattern already exists.");
        if (b.script !== undefined && !workers.has(String(b.script))) return fail(400, 10019, "Worker script not found.");
        const route = { id: hex(), pattern, script: String(b.script) };
        routes.set(route.id, route);
        return envelope(route);
      }
      if (rid && m === "DELETE") {
        if (!routes.delete(rid)) return fail(404, 10005, "Route not found.");
        return envelope({ id: rid });
      }
      return fail(405, 10405, "Method not allowed");
    }
    return fail(404, 7003, `Could not route to ${path}, perhaps your object identifier is invalid?`);
  }

  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: handle });
  const close = async () => {
    await server.stop(true);
  };
  return {
    url: `http://127.0.0.1:${server.port}/client/v4`,
    token,
    accountId,
    zone,
    permissions,
    tunnels,
    configs,
    records,
    workers,
    routes,
    log,
    failNext: (method, path, status, errors) => void failures.push({ method, path, status, errors }),
    close,
    [Symbol.asyncDispose]: close,
  };
}
