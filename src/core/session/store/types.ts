import type { SessionRecord, TemplateRecord, TokenRecord } from "../model.ts";

/**
 * Where the control plane keeps its records. One control plane: SQLite in the state directory
 * (sqlite.ts). Several replicas behind a load balancer: one Redis they share (redis.ts). Both keep
 * the same JSON documents and give the same guarantees, and one test suite runs against both:
 * - session writes are compare-and-set on `version` (two replicas never overwrite each other's
 *   transition: the loser re-reads and decides again);
 * - leases make one replica the owner of a slow step (a push, a reconcile pass) for a while;
 * - counters in fixed windows rate-limit logins and bad tokens across replicas.
 */
export interface SessionStore {
  readonly kind: "sqlite" | "redis";
  getSession(id: string): Promise<SessionRecord | undefined>;
  listSessions(): Promise<SessionRecord[]>;
  /** ConflictError when the id is taken */
  createSession(r: SessionRecord): Promise<void>;
  /**
   * Write `next` if the stored version is still `next.version - 1`: returns false (and writes
   * nothing) when another writer came first.
   */
  replaceSession(next: SessionRecord): Promise<boolean>;
  deleteSession(id: string): Promise<void>;

  putToken(t: TokenRecord): Promise<void>;
  getToken(id: string): Promise<TokenRecord | undefined>;
  listTokens(): Promise<TokenRecord[]>;

  putTemplate(t: TemplateRecord): Promise<void>;
  getTemplate(name: string): Promise<TemplateRecord | undefined>;
  listTemplates(): Promise<TemplateRecord[]>;
  deleteTemplate(name: string): Promise<void>;

  /** Hold `key` for `ttlMs` as `holder` (renewing a lease it already holds); false when another holds it. */
  acquireLease(key: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseLease(key: string, holder: string): Promise<void>;

  /** Count one hit on `key` in the current fixed window of `windowMs`; returns the window's count. */
  hit(key: string, windowMs: number): Promise<number>;

  close(): Promise<void>;
}
