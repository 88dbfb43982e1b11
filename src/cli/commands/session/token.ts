import * as v from "valibot";
import { arg, defineCommand, list, option } from "../../define.ts";
import { NotFoundError, UsageError } from "../../../errors.ts";

/**
 * API tokens of the control plane, managed where it runs (they are its store's records): the
 * token is printed once and only its SHA-256 is kept.
 */
const storeOpt = option("the control plane's store: sqlite (the state directory) or redis://host:port (also DEVX_SESSION_STORE)", { placeholder: "sqlite|redis://…" });

export const tokenCreate = defineCommand({
  path: ["session", "token", "create"],
  group: "Orchestration & state",
  dryRun: "plan",
  summary: "create an API token for the session control plane (printed once, stored hashed)",
  examples: ["devx session token create --owner alice", "devx session token create --owner ci --scope sessions:read --ttl 24h --json"],
  options: v.object({
    owner: option("whose sessions the token acts on (default: $USER)", { placeholder: "user" }),
    scope: list("sessions:read, sessions:write or sessions:admin (repeatable; default: read and write)", { placeholder: "scope" }),
    ttl: option("expire after this long (default: never)", { placeholder: "duration" }),
    note: option("what the token is for, shown in `token ls`", { placeholder: "text" }),
    store: storeOpt,
  }),
  async run(opts, deps) {
    const { parseScopes, newToken } = await import("../../../core/session/auth.ts");
    const { openStore, storeLabel } = await import("./context.ts");
    const owner = opts.owner ?? deps.env.USER ?? "me";
    if (!/^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$/.test(owner)) throw new UsageError(`bad --owner "${owner}"`, "letters, digits, _ . @ - (at most 64)");
    if (opts.note !== undefined && (opts.note.length > 200 || /[\x00-\x1f\x7f]/.test(opts.note))) throw new UsageError("bad --note", "at most 200 printable characters");
    const scopes = parseScopes(opts.scope.length ? opts.scope : ["sessions:read", "sessions:write"]);
    let ttlMs: number | undefined;
    if (opts.ttl !== undefined) {
      const { parseDuration } = await import("../../../config/duration.ts");
      ttlMs = parseDuration(opts.ttl);
      if (ttlMs === undefined || ttlMs <= 0) throw new UsageError(`bad --ttl "${opts.ttl}"`, "use a duration such as 12h or 30d");
    }
    if (opts.dryRun) {
      const plan = { owner, scopes, ttl: opts.ttl ?? null, store: storeLabel(deps, opts.store) };
      deps.io.out.write(deps.global.json ? JSON.stringify({ plan }) + "\n" : `would create an API token for ${owner} (${scopes.join(", ")}${opts.ttl ? `, expires in ${opts.ttl}` : ""}) in ${plan.store}\n`);
      return 0;
    }
    const store = (await openStore(deps, opts.store))!;
    try {
      const { token, record } = newToken(owner, scopes, ttlMs, opts.note);
      await store.putToken(record);
      if (deps.global.json) deps.io.out.write(JSON.stringify({ token, id: record.id, owner, scopes, expires: record.expires ?? null }) + "\n");
      else {
        deps.io.out.write(`${token}\n`);
        deps.io.err.write(`token ${record.id} for ${owner} (${scopes.join(", ")}${record.expires ? `, expires ${record.expires}` : ""}): shown once, only its hash is kept\n`);
      }
    } finally {
      await store.close();
    }
    return 0;
  },
});

export const tokenLs = defineCommand({
  path: ["session", "token", "ls"],
  group: "Orchestration & state",
  dryRun: "read-only",
  summary: "list the control plane's API tokens (ids, owners, scopes; never the tokens)",
  examples: ["devx session token ls", "devx session token ls --json"],
  options: v.object({ store: storeOpt }),
  async run(opts, deps) {
    const { openStore } = await import("./context.ts");
    const store = await openStore(deps, opts.store, { mustExist: true });
    const tokens = store ? await store.listTokens().finally(() => store.close()) : [];
    const now = Date.now();
    const rows = tokens.map((t) => ({ id: t.id, owner: t.owner, scopes: t.scopes, created: t.created, expires: t.expires ?? null, revoked: t.revoked ?? null, note: t.note ?? null, status: t.revoked ? "revoked" : t.expires && Date.parse(t.expires) <= now ? "expired" : "active" }));
    if (deps.global.json) {
      deps.io.out.write(JSON.stringify({ tokens: rows }, null, 2) + "\n");
      return 0;
    }
    if (!rows.length) {
      deps.io.out.write("no API tokens (create one with `devx session token create`)\n");
      return 0;
    }
    const w = (k: (r: (typeof rows)[number]) => string) => Math.max(...rows.map((r) => k(r).length));
    const ow = Math.max(5, w((r) => r.owner));
    const sw = Math.max(6, w((r) => r.scopes.join(",")));
    deps.io.out.write(`${"ID".padEnd(14)}${"OWNER".padEnd(ow + 2)}${"SCOPES".padEnd(sw + 2)}${"STATUS".padEnd(9)}${"EXPIRES".padEnd(26)}NOTE\n`);
    for (const r of rows) deps.io.out.write(`${r.id.padEnd(14)}${r.owner.padEnd(ow + 2)}${r.scopes.join(",").padEnd(sw + 2)}${r.status.padEnd(9)}${(r.expires ?? "never").padEnd(26)}${r.note ?? ""}`.trimEnd() + "\n");
    return 0;
  },
});

export const tokenRevoke = defineCommand({
  path: ["session", "token", "revoke"],
  group: "Orchestration & state",
  dryRun: "plan",
  summary: "revoke an API token at once (every control plane sharing the store refuses it)",
  examples: ["devx session token revoke k3j5h2g8d9f0"],
  options: v.object({
    id: arg("the token's id (from `token ls`, or the part after dxt_)", { placeholder: "token-id" }),
    store: storeOpt,
  }),
  async run(opts, deps) {
    const { openStore } = await import("./context.ts");
    const id = /^dxt_([a-z0-9]{12})_/.exec(opts.id)?.[1] ?? opts.id;
    if (!/^[a-z0-9]{12}$/.test(id)) throw new UsageError(`bad token id "${opts.id.slice(0, 20)}"`, "the 12-character id from `devx session token ls`");
    const store = await openStore(deps, opts.store, { mustExist: opts.dryRun });
    try {
      const t = await store?.getToken(id);
      if (!t) throw new NotFoundError(`no API token ${id}`, "see `devx session token ls`");
      if (opts.dryRun) {
        deps.io.out.write(deps.global.json ? JSON.stringify({ plan: { revoke: id, owner: t.owner } }) + "\n" : `would revoke token ${id} of ${t.owner}${t.revoked ? " (already revoked)" : ""}\n`);
        return 0;
      }
      if (!t.revoked) await store!.putToken({ ...t, revoked: new Date().toISOString() });
      deps.io.out.write(deps.global.json ? JSON.stringify({ revoked: id }) + "\n" : `revoked token ${id} of ${t.owner}\n`);
    } finally {
      await store?.close();
    }
    return 0;
  },
});
