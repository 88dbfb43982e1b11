import { link, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { readJson, writeFileAtomic } from "../../platform/atomic.ts";

/**
 * What devx keeps on this machine about Cloudflare, under <state>/cloudflare/:
 * - owner.json: this developer's owner id, made once, written into the names and DNS comments of
 *   what devx creates so a shared account can tell whose it is;
 * - vm-tunnels/<account>/<vm>.json: the id of the VM's tunnel, recorded by `vm init`, so the tunnel
 *   commands act on that tunnel and never on a teammate's of a similar name;
 * - journal/<tunnel id>.json: the ingress rules devx added to that tunnel and when, so `gc` can tell
 *   its own rules from the user's and spare young ones. It is written before the configuration is,
 *   and changed only under the tunnel's lock (lock.ts).
 */
export interface VmTunnelRecord {
  accountId: string;
  vm: string;
  tunnelId: string;
  tunnelName: string;
  owner: string;
  recordedAt: string;
}

export interface JournalEntry {
  service: string;
  /** ms since the epoch, when devx was about to write the rule */
  addedAt: number;
  basicAuth?: boolean;
}

export interface Journal {
  rules: Record<string, JournalEntry>;
}

const root = (state: string) => join(state, "cloudflare");
const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, "_");

/** Create `path` with `text` unless it exists; either way return what the file holds. */
async function createOnce(path: string, text: string): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${crypto.randomUUID()}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  try {
    await link(tmp, path);
    return text;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    return await readFile(path, "utf8");
  } finally {
    await rm(tmp, { force: true });
  }
}

/** The owner id if one was made already (a dry run must not make it). */
export async function peekOwnerId(state: string): Promise<string | undefined> {
  const existing = await readJson<{ id?: unknown }>(join(root(state), "owner.json")).catch(() => undefined);
  return typeof existing?.id === "string" && /^[a-z0-9-]{1,40}$/.test(existing.id) ? existing.id : undefined;
}

/**
 * This developer's owner id, `<user>-<6 random characters>`: made on first use and kept. Two
 * teammates with the same user name still get different ids.
 */
export async function ownerId(state: string, env: Record<string, string | undefined>): Promise<string> {
  const path = join(root(state), "owner.json");
  const existing = await peekOwnerId(state);
  if (existing) return existing;
  const user = (env.USER || env.USERNAME || "user").toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 20) || "user";
  const suffix = Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => "abcdefghijklmnopqrstuvwxyz0123456789"[b % 36]).join("");
  const text = await createOnce(path, JSON.stringify({ id: `${user}-${suffix}` }) + "\n");
  return (JSON.parse(text) as { id: string }).id;
}

const recordPath = (state: string, accountId: string, vm: string) => join(root(state), "vm-tunnels", safe(accountId), `${safe(vm)}.json`);

export function readVmTunnel(state: string, accountId: string, vm: string): Promise<VmTunnelRecord | undefined> {
  return readJson<VmTunnelRecord>(recordPath(state, accountId, vm)).catch(() => undefined);
}

export function writeVmTunnel(state: string, rec: VmTunnelRecord): Promise<void> {
  return writeFileAtomic(recordPath(state, rec.accountId, rec.vm), JSON.stringify(rec, null, 2) + "\n");
}

export async function removeVmTunnelRecord(state: string, accountId: string, vm: string): Promise<void> {
  await rm(recordPath(state, accountId, vm), { force: true });
}

/** Every VM tunnel recorded on this machine for the account (the tunnels `gc --all-mine` may touch). */
export async function recordedTunnels(state: string, accountId: string): Promise<VmTunnelRecord[]> {
  const dir = join(root(state), "vm-tunnels", safe(accountId));
  const names = await readdir(dir).catch(() => [] as string[]);
  const out: VmTunnelRecord[] = [];
  for (const n of names.filter((x) => x.endsWith(".json"))) {
    const r = await readJson<VmTunnelRecord>(join(dir, n)).catch(() => undefined);
    if (r?.tunnelId) out.push(r);
  }
  return out;
}

const journalPath = (state: string, tunnelId: string) => join(root(state), "journal", `${safe(tunnelId)}.json`);

export async function readJournal(state: string, tunnelId: string): Promise<Journal> {
  const j = await readJson<Journal>(journalPath(state, tunnelId)).catch(() => undefined);
  return j && typeof j.rules === "object" && j.rules ? j : { rules: {} };
}

/** Change one tunnel's journal; call only while holding that tunnel's lock. */
export async function updateJournal(state: string, tunnelId: string, change: (j: Journal) => void): Promise<void> {
  const j = await readJournal(state, tunnelId);
  change(j);
  await writeFileAtomic(journalPath(state, tunnelId), JSON.stringify(j, null, 2) + "\n");
}

export async function removeJournal(state: string, tunnelId: string): Promise<void> {
  await rm(journalPath(state, tunnelId), { force: true });
}
