/**
 * The control plane's records (`devx session serve`): sessions, API tokens, templates. They live in
 * a SessionStore (store/), SQLite by default and Redis for several replicas; every field is plain
 * JSON so both stores hold the same documents.
 */

/**
 * creating → starting → running → stopping → persisting → stopped (sandbox deleted, workspace in
 * the bucket). A push that fails or cannot be verified ends in persist-failed: the sandbox is kept
 * (stopped) and the push retried; nothing is deleted until a push is verified. failed: the sandbox
 * could not be created or started (see `detail`).
 */
export type SessionState = "creating" | "starting" | "running" | "stopping" | "persisting" | "stopped" | "persist-failed" | "failed" | "deleting";

export interface SessionLimits {
  cpus: number;
  memoryMiB: number;
  pids: number;
}

export interface SessionRecord {
  id: string;
  /** who created it (an API token's owner or a signed-in user) */
  owner: string;
  template: string;
  image: string;
  state: SessionState;
  /** why it is in that state (an error, "idle", "max lifetime"…) */
  detail?: string;
  created: string;
  updated: string;
  /** the runner inside the sandbox, as the control plane reaches it */
  runner?: { url: string };
  /** the sandbox in the backend (a container name) */
  sandbox?: string;
  /** per-session secret the runner checks tokens with (hex); never leaves the control plane but to its runner */
  secret: string;
  limits: SessionLimits;
  egress: boolean;
  idleMinutes: number;
  maxHours: number;
  /** the workspace's place in the bucket and what was last pushed */
  workspace: { prefix: string; lastPush?: string; lastPushFiles?: number; lastPushSeq?: number };
  /** preview ports reachable without a token */
  publicPorts: number[];
  /** optimistic concurrency: bumped on every write (several control planes share a Redis store) */
  version: number;
}

/** An API token as stored: never the token itself, only its hash. */
export interface TokenRecord {
  /** the public half, shown in lists: `dxt_<id>_…` */
  id: string;
  /** SHA-256 (hex) of the whole token */
  hash: string;
  owner: string;
  /** what it may do: sessions:read, sessions:write, sessions:admin (tokens and every user's sessions) */
  scopes: TokenScope[];
  created: string;
  expires?: string;
  revoked?: string;
  note?: string;
}

export const TOKEN_SCOPES = ["sessions:read", "sessions:write", "sessions:admin"] as const;
export type TokenScope = (typeof TOKEN_SCOPES)[number];

export interface TemplateRecord {
  name: string;
  image: string;
  /** where its files are in the bucket (a workspace snapshot) */
  prefix?: string;
  description?: string;
  created: string;
}

export const SESSION_ID = /^[a-z0-9][a-z0-9-]{2,40}$/;
export const TEMPLATE_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
