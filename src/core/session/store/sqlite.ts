import { Database } from "bun:sqlite";
import { chmodSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { ConflictError } from "../../../errors.ts";
import type { SessionRecord, TemplateRecord, TokenRecord } from "../model.ts";
import type { SessionStore } from "./types.ts";

/**
 * The embedded store: one SQLite file (mode 0600: it holds session secrets) in the state
 * directory, in WAL mode so readers never wait on the writer. Documents are JSON in a `doc` column
 * beside the few columns queries need.
 */
export class SqliteStore implements SessionStore {
  readonly kind = "sqlite";
  private readonly db: Database;

  constructor(file: string) {
    if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    this.db = new Database(file, { create: true, strict: true });
    if (file !== ":memory:") chmodSync(file, 0o600);
    this.db.exec("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, version INTEGER NOT NULL, doc TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS tokens (id TEXT PRIMARY KEY, doc TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS templates (name TEXT PRIMARY KEY, doc TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS leases (key TEXT PRIMARY KEY, holder TEXT NOT NULL, expires INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS hits (key TEXT PRIMARY KEY, window INTEGER NOT NULL, count INTEGER NOT NULL);
    `);
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    const row = this.db.query<{ doc: string }, [string]>("SELECT doc FROM sessions WHERE id = ?").get(id);
    return row ? (JSON.parse(row.doc) as SessionRecord) : undefined;
  }

  async listSessions(): Promise<SessionRecord[]> {
    return this.db
      .query<{ doc: string }, []>("SELECT doc FROM sessions ORDER BY id")
      .all()
      .map((r) => JSON.parse(r.doc) as SessionRecord);
  }

  async createSession(r: SessionRecord): Promise<void> {
    const done = this.db.query("INSERT OR IGNORE INTO sessions (id, version, doc) VALUES (?, ?, ?)").run(r.id, r.version, JSON.stringify(r));
    if (done.changes === 0) throw new ConflictError(`session ${r.id} exists already`, "pick another name, or leave --name out for a generated one");
  }

  async replaceSession(next: SessionRecord): Promise<boolean> {
    const done = this.db.query("UPDATE sessions SET version = ?, doc = ? WHERE id = ? AND version = ?").run(next.version, JSON.stringify(next), next.id, next.version - 1);
    return done.changes === 1;
  }

  async deleteSession(id: string): Promise<void> {
    this.db.query("DELETE FROM sessions WHERE id = ?").run(id);
  }

  async putToken(t: TokenRecord): Promise<void> {
    this.db.query("INSERT OR REPLACE INTO tokens (id, doc) VALUES (?, ?)").run(t.id, JSON.stringify(t));
  }

  async getToken(id: string): Promise<TokenRecord | undefined> {
    const row = this.db.query<{ doc: string }, [string]>("SELECT doc FROM tokens WHERE id = ?").get(id);
    return row ? (JSON.parse(row.doc) as TokenRecord) : undefined;
  }

  async listTokens(): Promise<TokenRecord[]> {
    return this.db
      .query<{ doc: string }, []>("SELECT doc FROM tokens ORDER BY id")
      .all()
      .map((r) => JSON.parse(r.doc) as TokenRecord);
  }

  async putTemplate(t: TemplateRecord): Promise<void> {
    this.db.query("INSERT OR REPLACE INTO templates (name, doc) VALUES (?, ?)").run(t.name, JSON.stringify(t));
  }

  async getTemplate(name: string): Promise<TemplateRecord | undefined> {
    const row = this.db.query<{ doc: string }, [string]>("SELECT doc FROM templates WHERE name = ?").get(name);
    return row ? (JSON.parse(row.doc) as TemplateRecord) : undefined;
  }

  async listTemplates(): Promise<TemplateRecord[]> {
    return this.db
      .query<{ doc: string }, []>("SELECT doc FROM templates ORDER BY name")
      .all()
      .map((r) => JSON.parse(r.doc) as TemplateRecord);
  }

  async deleteTemplate(name: string): Promise<void> {
    this.db.query("DELETE FROM templates WHERE name = ?").run(name);
  }

  async acquireLease(key: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    return this.db.transaction(() => {
      const row = this.db.query<{ holder: string; expires: number }, [string]>("SELECT holder, expires FROM leases WHERE key = ?").get(key);
      if (row && row.holder !== holder && row.expires > now) return false;
      this.db.query("INSERT OR REPLACE INTO leases (key, holder, expires) VALUES (?, ?, ?)").run(key, holder, now + ttlMs);
      return true;
    })();
  }

  async releaseLease(key: string, holder: string): Promise<void> {
    this.db.query("DELETE FROM leases WHERE key = ? AND holder = ?").run(key, holder);
  }

  async hit(key: string, windowMs: number): Promise<number> {
    const window = Math.floor(Date.now() / windowMs);
    return this.db.transaction(() => {
      const row = this.db.query<{ window: number; count: number }, [string]>("SELECT window, count FROM hits WHERE key = ?").get(key);
      const count = row && row.window === window ? row.count + 1 : 1;
      this.db.query("INSERT OR REPLACE INTO hits (key, window, count) VALUES (?, ?, ?)").run(key, window, count);
      return count;
    })();
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
