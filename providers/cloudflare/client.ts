import { ConflictError, NetworkError, NotFoundError, PermissionError, ProviderError, type DevxError } from "../../src/errors.ts";

/**
 * A small client for the Cloudflare API v4 endpoints devx uses: token verify, zones by name,
 * cfd_tunnel (create/list/token/delete), tunnel configurations (GET/PUT) and DNS records.
 * Every response is the v4 envelope `{success, errors:[{code,message}], messages, result, result_info}`;
 * failures become typed errors naming the token permission to add. The token only ever goes into
 * the Authorization header.
 */
export const DEFAULT_API = "https://api.cloudflare.com/client/v4";

export interface Envelope<T> {
  success: boolean;
  errors: Array<{ code: number; message: string }>;
  messages: Array<{ code: number; message: string }>;
  result: T;
  result_info?: { page: number; per_page: number; count: number; total_count: number; total_pages?: number };
}

export interface Zone {
  id: string;
  name: string;
  account: { id: string; name?: string };
}

export interface Tunnel {
  id: string;
  name: string;
  created_at: string;
  deleted_at: string | null;
  status?: string;
  config_src?: string;
  remote_config?: boolean;
  connections?: unknown[];
}

export interface IngressRule {
  hostname?: string;
  service: string;
  path?: string;
  originRequest?: Record<string, unknown>;
}

export interface TunnelConfiguration {
  tunnel_id: string;
  version: number;
  config: { ingress?: IngressRule[]; "warp-routing"?: { enabled: boolean }; originRequest?: Record<string, unknown> } | null;
  source?: string;
}

export interface DnsRecord {
  id: string;
  type: string;
  name: string;
  content: string;
  proxied?: boolean;
  ttl?: number;
  comment?: string | null;
  tags?: string[];
}

/** The permission a token needs for a request, named as in the dashboard's token editor. */
export function permissionFor(method: string, path: string): string {
  if (/^\/zones\/[^/]+\/dns_records/.test(path)) return method === "GET" ? "Zone:DNS:Read" : "Zone:DNS:Edit";
  if (/^\/zones\/[^/]+\/workers\/routes/.test(path)) return method === "GET" ? "Zone:Workers Routes:Read" : "Zone:Workers Routes:Edit";
  if (/^\/zones/.test(path)) return "Zone:Zone:Read";
  if (/^\/accounts\/[^/]+\/workers\/scripts/.test(path)) return method === "GET" ? "Account:Workers Scripts:Read" : "Account:Workers Scripts:Edit";
  if (/^\/accounts\/[^/]+\/cfd_tunnel/.test(path)) return method === "GET" ? "Account:Cloudflare Tunnel:Read" : "Account:Cloudflare Tunnel:Edit";
  return "a valid API token";
}

// API error codes devx turns into specific errors (from Cloudflare's API error catalogue)
const AUTH_CODES = new Set([9103, 9106, 9109, 10000, 10001, 1000]);
const DNS_EXISTS = new Set([81053, 81057, 81058]);
const TUNNEL_NAME_TAKEN = new Set([1013]);

export class CloudflareClient {
  constructor(
    private readonly token: string,
    private readonly baseUrl: string = DEFAULT_API,
    private readonly fetchFn: typeof fetch = fetch,
  ) {}

  async request<T>(method: string, path: string, opts: { query?: Record<string, string | number | boolean | undefined>; body?: unknown; form?: FormData } = {}): Promise<Envelope<T>> {
    const url = new URL(this.baseUrl.replace(/\/$/, "") + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    let res: Response;
    try {
      res = await this.fetchFn(url, {
        method,
        headers: { Authorization: `Bearer ${this.token}`, ...(opts.body !== undefined ? { "Content-Type": "application/json" } : {}) },
        // multipart bodies set their own Content-Type with the boundary
        body: opts.form ?? (opts.body !== undefined ? JSON.stringify(opts.body) : undefined),
      });
    } catch (e) {
      throw new NetworkError(`cannot reach the Cloudflare API at ${url.origin}: ${(e as Error).message}`, "check your network, or DEVX_CLOUDFLARE_API if you set it");
    }
    let env: Envelope<T>;
    try {
      env = (await res.json()) as Envelope<T>;
    } catch {
      throw new ProviderError(`Cloudflare answered ${method} ${path} with HTTP ${res.status} and no JSON`, "retry later; https://www.cloudflarestatus.com shows incidents");
    }
    if (res.ok && env.success) return env;
    throw this.toError(method, path, res.status, env);
  }

  private toError(method: string, path: string, status: number, env: Partial<Envelope<unknown>>): DevxError {
    const errors = env.errors ?? [];
    const text = errors.map((e) => `${e.message} (code ${e.code})`).join("; ") || `HTTP ${status}`;
    const codes = new Set(errors.map((e) => e.code));
    const what = `Cloudflare ${method} ${path.replace(/\/[0-9a-f]{32}(?=\/|$)/g, "/…")}`;
    if (status === 401 || status === 403 || [...codes].some((c) => AUTH_CODES.has(c))) {
      const perm = permissionFor(method, path);
      return new PermissionError(`${what} was refused: ${text}`, perm === "a valid API token" ? "create an API token at https://dash.cloudflare.com/profile/api-tokens and set CLOUDFLARE_API_TOKEN" : `add the permission "${perm}" to your API token (https://dash.cloudflare.com/profile/api-tokens)`);
    }
    if ([...codes].some((c) => DNS_EXISTS.has(c))) return new ConflictError(`${what}: ${text}`, "that host name is taken in the zone: choose another --name, or remove the existing record");
    if ([...codes].some((c) => TUNNEL_NAME_TAKEN.has(c))) return new ConflictError(`${what}: ${text}`, "a tunnel of that name exists: run `devx tunnel list`");
    if (status === 404) return new NotFoundError(`${what}: ${text}`, "check vm.cloudflare.account_id and the zone in devx.yaml");
    if (status === 429) return new NetworkError(`${what}: rate limited (${text})`, "wait a minute and retry");
    return new ProviderError(`${what} failed: ${text}`, "retry; run with --debug for details");
  }

  /** all pages of a list endpoint */
  private async list<T>(path: string, query: Record<string, string | number | boolean | undefined> = {}): Promise<T[]> {
    const out: T[] = [];
    for (let page = 1; ; page++) {
      const env = await this.request<T[]>("GET", path, { query: { ...query, page, per_page: 100 } });
      out.push(...(env.result ?? []));
      const info = env.result_info;
      const pages = info?.total_pages ?? (info ? Math.ceil(info.total_count / Math.max(1, info.per_page)) : 1);
      if (!info || page >= pages || (env.result ?? []).length === 0) return out;
    }
  }

  async verifyToken(): Promise<{ id: string; status: string }> {
    return (await this.request<{ id: string; status: string }>("GET", "/user/tokens/verify")).result;
  }

  async findZone(name: string): Promise<Zone> {
    const zones = await this.list<Zone>("/zones", { name });
    const z = zones.find((x) => x.name === name);
    if (!z) throw new NotFoundError(`the zone ${name} is not visible to this API token`, `add the zone to the token with "Zone:Zone:Read" and "Zone:DNS:Edit", or check vm.cloudflare.zone / --domain`);
    return z;
  }

  listTunnels(accountId: string, name?: string): Promise<Tunnel[]> {
    return this.list<Tunnel>(`/accounts/${accountId}/cfd_tunnel`, { name, is_deleted: false });
  }

  async createTunnel(accountId: string, name: string): Promise<Tunnel> {
    return (await this.request<Tunnel>("POST", `/accounts/${accountId}/cfd_tunnel`, { body: { name, config_src: "cloudflare" } })).result;
  }

  async tunnelToken(accountId: string, tunnelId: string): Promise<string> {
    return (await this.request<string>("GET", `/accounts/${accountId}/cfd_tunnel/${tunnelId}/token`)).result;
  }

  async deleteTunnel(accountId: string, tunnelId: string): Promise<void> {
    await this.request("DELETE", `/accounts/${accountId}/cfd_tunnel/${tunnelId}`);
  }

  /** drop stale connector connections (a deleted VM cannot close its own) so the tunnel can be deleted */
  async cleanupTunnelConnections(accountId: string, tunnelId: string): Promise<void> {
    await this.request("DELETE", `/accounts/${accountId}/cfd_tunnel/${tunnelId}/connections`);
  }

  async getTunnelConfig(accountId: string, tunnelId: string): Promise<TunnelConfiguration> {
    return (await this.request<TunnelConfiguration>("GET", `/accounts/${accountId}/cfd_tunnel/${tunnelId}/configurations`)).result;
  }

  async putTunnelConfig(accountId: string, tunnelId: string, config: NonNullable<TunnelConfiguration["config"]>): Promise<TunnelConfiguration> {
    return (await this.request<TunnelConfiguration>("PUT", `/accounts/${accountId}/cfd_tunnel/${tunnelId}/configurations`, { body: { config } })).result;
  }

  listDnsRecords(zoneId: string, filter: { type?: string; name?: string } = {}): Promise<DnsRecord[]> {
    return this.list<DnsRecord>(`/zones/${zoneId}/dns_records`, filter);
  }

  async createDnsRecord(zoneId: string, rec: Omit<DnsRecord, "id">): Promise<DnsRecord> {
    return (await this.request<DnsRecord>("POST", `/zones/${zoneId}/dns_records`, { body: rec })).result;
  }

  async deleteDnsRecord(zoneId: string, id: string): Promise<void> {
    await this.request("DELETE", `/zones/${zoneId}/dns_records/${id}`);
  }

  /** upload an ES-module Worker with secret bindings (multipart: metadata + module) */
  async putWorker(accountId: string, name: string, module: string, secrets: Record<string, string>): Promise<void> {
    const form = new FormData();
    const metadata = { main_module: "worker.js", compatibility_date: "2024-11-01", bindings: Object.entries(secrets).map(([n, text]) => ({ type: "secret_text", name: n, text })) };
    form.append("metadata", new Blob([JSON.stringify(metadata)], { type: "application/json" }));
    form.append("worker.js", new Blob([module], { type: "application/javascript+module" }), "worker.js");
    await this.request("PUT", `/accounts/${accountId}/workers/scripts/${name}`, { form });
  }

  async deleteWorker(accountId: string, name: string): Promise<void> {
    await this.request("DELETE", `/accounts/${accountId}/workers/scripts/${name}`);
  }

  async listWorkerRoutes(zoneId: string): Promise<WorkerRoute[]> {
    return (await this.request<WorkerRoute[]>("GET", `/zones/${zoneId}/workers/routes`)).result ?? [];
  }

  async createWorkerRoute(zoneId: string, pattern: string, script: string): Promise<WorkerRoute> {
    return (await this.request<WorkerRoute>("POST", `/zones/${zoneId}/workers/routes`, { body: { pattern, script } })).result;
  }

  async deleteWorkerRoute(zoneId: string, id: string): Promise<void> {
    await this.request("DELETE", `/zones/${zoneId}/workers/routes/${id}`);
  }
}

export interface WorkerRoute {
  id: string;
  pattern: string;
  script?: string;
}
