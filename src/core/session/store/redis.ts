import { RedisClient } from "bun";
import { ConflictError, NetworkError, messageOf } from "../../../errors.ts";
import type { SessionRecord, TemplateRecord, TokenRecord } from "../model.ts";
import type { SessionStore } from "./types.ts";

/**
 * The shared store for several control-plane replicas: one Redis (Bun's built-in client). Each
 * session is a hash {version, doc}; compare-and-set and leases are Lua scripts so they are atomic
 * on the server whatever the replicas do at the same time. Keys live under `<prefix>:` (default
 * `devx`), so one Redis can serve several deployments.
 */
const CREATE = `if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'doc', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
return 1`;
const REPLACE = `if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'doc', ARGV[3])
return 1`;
const LEASE = `local h = redis.call('GET', KEYS[1])
if h and h ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1`;

export class RedisStore implements SessionStore {
  readonly kind = "redis";
  private readonly client: RedisClient;

  constructor(
    url: string,
    private readonly prefix = "devx",
  ) {
    this.client = new RedisClient(url, { autoReconnect: true, enableOfflineQueue: true, connectionTimeout: 5000 });
  }

  private k(...parts: string[]): string {
    return [this.prefix, ...parts].join(":");
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw new NetworkError(`the session store (Redis) failed: ${messageOf(e)}`, "check that Redis is reachable and the --store URL (credentials included) is right");
    }
  }

  private async evalScript(script: string, keys: string[], args: string[]): Promise<number> {
    return Number(await this.call(() => this.client.send("EVAL", [script, String(keys.length), ...keys, ...args])));
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    const doc = await this.call(() => this.client.hget(this.k("session", id), "doc"));
    return doc ? (JSON.parse(doc) as SessionRecord) : undefined;
  }

  async listSessions(): Promise<SessionRecord[]> {
    const ids = ((await this.call(() => this.client.smembers(this.k("sessions")))) as string[]).sort();
    const out: SessionRecord[] = [];
    for (const id of ids) {
      const r = await this.getSession(id);
      if (r) out.push(r);
    }
    return out;
  }

  async createSession(r: SessionRecord): Promise<void> {
    const ok = await this.evalScript(CREATE, [this.k("session", r.id), this.k("sessions")], [String(r.version), JSON.stringify(r), r.id]);
    if (ok !== 1) throw new ConflictError(`session ${r.id} exists already`, "pick another name, or leave --name out for a generated one");
  }

  async replaceSession(next: SessionRecord): Promise<boolean> {
    return (await this.evalScript(REPLACE, [this.k("session", next.id)], [String(next.version - 1), String(next.version), JSON.stringify(next)])) === 1;
  }

  async deleteSession(id: string): Promise<void> {
    await this.call(async () => {
      await this.client.del(this.k("session", id));
      await this.client.srem(this.k("sessions"), id);
    });
  }

  private async putDoc(kind: string, id: string, doc: unknown): Promise<void> {
    await this.call(async () => {
      await this.client.set(this.k(kind, id), JSON.stringify(doc));
      await this.client.sadd(this.k(`${kind}s`), id);
    });
  }

  private async getDoc<T>(kind: string, id: string): Promise<T | undefined> {
    const text = await this.call(() => this.client.get(this.k(kind, id)));
    return text ? (JSON.parse(text) as T) : undefined;
  }

  private async listDocs<T>(kind: string): Promise<T[]> {
    const ids = ((await this.call(() => this.client.smembers(this.k(`${kind}s`)))) as string[]).sort();
    const out: T[] = [];
    for (const id of ids) {
      const d = await this.getDoc<T>(kind, id);
      if (d) out.push(d);
    }
    return out;
  }

  putToken(t: TokenRecord): Promise<void> {
    return this.putDoc("token", t.id, t);
  }
  getToken(id: string): Promise<TokenRecord | undefined> {
    return this.getDoc("token", id);
  }
  listTokens(): Promise<TokenRecord[]> {
    return this.listDocs("token");
  }
  putTemplate(t: TemplateRecord): Promise<void> {
    return this.putDoc("template", t.name, t);
  }
  getTemplate(name: string): Promise<TemplateRecord | undefined> {
    return this.getDoc("template", name);
  }
  listTemplates(): Promise<TemplateRecord[]> {
    return this.listDocs("template");
  }
  async deleteTemplate(name: string): Promise<void> {
    await this.call(async () => {
      await this.client.del(this.k("template", name));
      await this.client.srem(this.k("templates"), name);
    });
  }

  async acquireLease(key: string, holder: string, ttlMs: number): Promise<boolean> {
    return (await this.evalScript(LEASE, [this.k("lease", key)], [holder, String(ttlMs)])) === 1;
  }

  async releaseLease(key: string, holder: string): Promise<void> {
    await this.evalScript(RELEASE, [this.k("lease", key)], [holder]);
  }

  async hit(key: string, windowMs: number): Promise<number> {
    const window = Math.floor(Date.now() / windowMs);
    const k = this.k("hits", key, String(window));
    return this.call(async () => {
      const n = Number(await this.client.incr(k));
      if (n === 1) await this.client.send("PEXPIRE", [k, String(windowMs * 2)]);
      return n;
    });
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
