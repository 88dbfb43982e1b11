import { ConflictError, NetworkError, NotFoundError, PermissionError, ProviderError, type DevxError } from "../../src/errors.ts";

/**
 * A small client for the Cloudflare API v4 endpoints devx uses: token verify, zones by name,
 * cfd_tunnel (create/list/get/token/delete), tunnel configurations (GET/PUT), DNS records and the
 * basic-auth Workers. Answers that the official SDK retries (408, 409, 429, 5xx, dropped connections)
 * are retried with backoff, honouring Retry-After.
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
  /** when this version of the configuration was written */
  created_at?: string;
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
  created_on?: string;
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

/**
 * Documented page-size ranges of the list endpoints devx pages through (OpenAPI description):
 * zones 5–50, cfd_tunnel 1–1000, dns_records 1–5,000,000. devx asks for the largest page it needs.
 */
const PER_PAGE = { zones: 50, tunnels: 100, dnsRecords: 100 } as const;

export interface ClientOptions {
  fetch?: typeof fetch;
  /** waits between retries (tests inject a clock); aborting the signal ends the wait */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
  /** retries after a 408, 409, 429 or 5xx answer or a dropped connection (the official SDK's default is 2) */
  maxRetries?: number;
  /** called before each retry: what failed and how long devx waits */
  onRetry?: (info: { method: string; path: string; status: number | "network"; waitMs: number; attempt: number }) => void;
}

/** The longest Retry-After devx waits out by itself; a longer one fails with the time to come back. */
const MAX_RETRY_AFTER_MS = 60_000;

/** Whether an answer is worth retrying: the statuses the official SDK retries, and its x-should-retry override. */
function retryable(res: Response): boolean {
  const header = res.headers.get("x-should-retry");
  if (header === "true") return true;
  if (header === "false") return false;
  return res.status === 408 || res.status === 409 || res.status === 429 || res.status >= 500;
}

/** Retry-After in ms (seconds or an HTTP date), else exponential backoff from 0.5 s up to 8 s with jitter. */
export function retryDelayMs(res: Response | undefined, attempt: number, random = Math.random): number {
  const ms = Number.parseFloat(res?.headers.get("retry-after-ms") ?? "");
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const header = res?.headers.get("retry-after");
  if (header) {
    const secs = Number.parseFloat(header);
    if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
    const at = Date.parse(header);
    if (Number.isFinite(at)) return Math.max(0, at - Date.now());
  }
  return Math.min(500 * 2 ** attempt, 8000) * (1 - random() * 0.25);
}

export class CloudflareClient {
  private readonly fetchFn: typeof fetch;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(
    private readonly token: string,
    private readonly baseUrl: string = DEFAULT_API,
    private readonly opts: ClientOptions = {},
  ) {
    this.fetchFn = opts.fetch ?? fetch;
    this.sleep = opts.sleep ?? ((ms, signal) => new Promise((res, rej) => {
      const t = setTimeout(res, ms);
      signal?.addEventListener("abort", () => (clearTimeout(t), rej(signal.reason)), { once: true });
    }));
  }

  async request<T>(method: string, path: string, opts: { query?: Record<string, string | number | boolean | undefined>; body?: unknown; form?: FormData } = {}): Promise<Envelope<T>> {
    const url = new URL(this.baseUrl.replace(/\/$/, "") + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const maxRetries = this.opts.maxRetries ?? 2;
    for (let attempt = 0; ; attempt++) {
      let res: Response | undefined;
      let netError: Error | undefined;
      try {
        res = await this.fetchFn(url, {
          method,
          headers: { Authorization: `Bearer ${this.token}`, ...(opts.body !== undefined ? { "Content-Type": "application/json" } : {}) },
          // multipart bodies set their own Content-Type with the boundary
          body: opts.form ?? (opts.body !== undefined ? JSON.stringify(opts.body) : undefined),
          signal: this.opts.signal,
        });
      } catch (e) {
        if (this.opts.signal?.aborted) throw e;
        netError = e as Error;
      }
      if (res && (res.ok || !retryable(res))) return this.answer<T>(method, path, res);
      const wait = retryDelayMs(res, attempt);
      if (attempt >= maxRetries || (res?.status === 429 && wait > MAX_RETRY_AFTER_MS)) {
        if (netError) throw new NetworkError(`cannot reach the Cloudflare API at ${url.origin}: ${netError.message}`, "check your network, or DEVX_CLOUDFLARE_API if you set it");
        return this.answer<T>(method, path, res!, wait);
      }
      await res?.body?.cancel().catch(() => {});
      this.opts.onRetry?.({ method, path, status: res?.status ?? "network", waitMs: wait, attempt: attempt + 1 });
      await this.sleep(wait, this.opts.signal);
    }
  }

  private async answer<T>(method: string, path: string, res: Response, retryAfterMs?: number): Promise<Envelope<T>> {
    let env: Envelope<T>;
    try {
      env = (await res.json()) as Envelope<T>;
    } catch {
      throw new ProviderError(`Cloudflare answered ${method} ${path} with HTTP ${res.status} and no JSON`, "retry later; https://www.cloudflarestatus.com shows incidents");
    }
    if (res.ok && env.success) return env;
    throw this.toError(method, path, res.status, env, retryAfterMs);
  }

  private toError(method: string, path: string, status: number, env: Partial<Envelope<unknown>>, retryAfterMs?: number): DevxError {
    const errors = env.errors ?? [];
    const text = errors.map((e) => `${e.message} (code ${e.code})`).join("; ") || `HTTP ${status}`;
    const codes = new Set(errors.map((e) => e.code));
    const what = `Cloudflare ${method} ${path.replace(/\/[0-9a-f]{32}(?=\/|$)/g, "/…")}`;
    if (status === 401 || status === 403 || [...codes].some((c) => AUTH_CODES.has(c))) {
      const perm = permissionFor(method, path);
      return new PermissionError(`${what} was refused: ${text}`, perm === "a valid API token" ? "create an API token at https://dash.cloudflare.com/profile/api-tokens and set CLOUDFLARE_API_TOKEN" : `add the permission "${perm}" to your API token (https://dash.cloudflare.com/profile/api-tokens)`);
    }
    if ([...codes].some((c) => DNS_EXISTS.has(c))) return new DnsRecordExistsError(`${what}: ${text}`, "that host name is taken in the zone: choose another --name, or remove the existing record", codes.has(81057));
    if ([...codes].some((c) => TUNNEL_NAME_TAKEN.has(c))) return new ConflictError(`${what}: ${text}`, "a tunnel of that name exists: run `devx tunnel list`");
    if (status === 404) return new NotFoundError(`${what}: ${text}`, "check vm.cloudflare.account_id and the zone in devx.yaml");
    if (status === 429) {
      const secs = Math.ceil((retryAfterMs ?? 60_000) / 1000);
      return new NetworkError(`${what}: rate limited (${text}), still after retrying`, `Cloudflare allows about 1200 requests in 5 minutes per user: retry in ${secs} s`);
    }
    return new ProviderError(`${what} failed: ${text}`, "retry; run with --debug for details");
  }

  /** Every page of a list endpoint, at a page size within its documented range. */
  private async list<T>(path: string, perPage: number, query: Record<string, string | number | boolean | undefined> = {}): Promise<T[]> {
    const out: T[] = [];
    for (let page = 1; ; page++) {
      const env = await this.request<T[]>("GET", path, { query: { ...query, page, per_page: perPage } });
      const items = env.result ?? [];
      out.push(...items);
      const info = env.result_info;
      const pages = info?.total_pages ?? (info ? Math.ceil(info.total_count / Math.max(1, info.per_page)) : 1);
      if (!info || page >= pages || items.length === 0) return out;
    }
  }

  async verifyToken(): Promise<{ id: string; status: string }> {
    return (await this.request<{ id: string; status: string }>("GET", "/user/tokens/verify")).result;
  }

  async findZone(name: string): Promise<Zone> {
    const zones = await this.list<Zone>("/zones", PER_PAGE.zones, { name });
    const z = zones.find((x) => x.name.toLowerCase() === name.toLowerCase());
    if (!z) throw new NotFoundError(`the zone ${name} is not visible to this API token`, `add the zone to the token with "Zone:Zone:Read" and "Zone:DNS:Edit", or check vm.cloudflare.zone / --domain`);
    return z;
  }

  /** Tunnels of the account that are not deleted, filtered by exact name or name prefix. */
  listTunnels(accountId: string, filter: { name?: string; prefix?: string } = {}): Promise<Tunnel[]> {
    return this.list<Tunnel>(`/accounts/${accountId}/cfd_tunnel`, PER_PAGE.tunnels, { name: filter.name, include_prefix: filter.prefix, is_deleted: false });
  }

  /** One tunnel, or undefined when it does not exist or was deleted. */
  async getTunnel(accountId: string, tunnelId: string): Promise<Tunnel | undefined> {
    try {
      const t = (await this.request<Tunnel>("GET", `/accounts/${accountId}/cfd_tunnel/${tunnelId}`)).result;
      return t.deleted_at ? undefined : t;
    } catch (e) {
      if (e instanceof NotFoundError) return undefined;
      throw e;
    }
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

  /**
   * DNS records matching exact filters, answered by the API (`name.exact`, `content.exact`,
   * `comment.startswith`), so a large zone is not paged through. Callers still check what came back.
   */
  listDnsRecords(zoneId: string, filter: { type?: string; name?: string; content?: string; commentPrefix?: string } = {}): Promise<DnsRecord[]> {
    return this.list<DnsRecord>(`/zones/${zoneId}/dns_records`, PER_PAGE.dnsRecords, { type: filter.type, "name.exact": filter.name, "content.exact": filter.content, "comment.startswith": filter.commentPrefix });
  }

  async createDnsRecord(zoneId: string, rec: Omit<DnsRecord, "id" | "created_on">): Promise<DnsRecord> {
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

  /** Needs "Zone:Workers Routes:Read", which only --basic-auth asks for: call it only for guarded hosts. */
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

/** The zone already has a record of that name; `identical` when it is the very record asked for (81057). */
export class DnsRecordExistsError extends ConflictError {
  constructor(message: string, hint: string, readonly identical: boolean) {
    super(message, hint);
  }
}

export interface WorkerRoute {
  id: string;
  pattern: string;
  script?: string;
}
