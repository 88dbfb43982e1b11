import { join } from "node:path";
import { mkdirSync } from "node:fs";
import type { DevxConfig } from "../../../src/config/schema.ts";
import type { DevxEvent } from "../../../src/events/types.ts";
import { cloudflareSetup, ensureVmTunnel, type CloudflareSetup } from "../../../src/core/tunnel/setup.ts";
import type { Tunnel } from "../../../providers/cloudflare/client.ts";
import type { Deps } from "../../../src/cli/deps.ts";
import type { FakeCloudflare } from "../../support/fake-cloudflare.ts";
import { ExecStub } from "../../support/exec-stub.ts";
import { testDeps } from "../../unit/vm/helpers.ts";

/**
 * A developer's machine against the fake account: its own HOME (so its own devx state: owner id,
 * recorded VM tunnel, journal, locks), a user name and a VM name that teammates may share.
 */
export interface Machine {
  home: string;
  /** a fresh command on this machine (its own events), as a second terminal would run it */
  command(): { deps: Deps; events: DevxEvent[] };
}

export function machine(cf: FakeCloudflare, opts: { user?: string; vm?: string } = {}): Machine {
  const home = join(process.env.DEVX_TEST_ROOT!, `machine-${crypto.randomUUID().slice(0, 8)}`);
  mkdirSync(home, { recursive: true });
  const config: DevxConfig = { vm: { name: opts.vm ?? "devx", provider: "podman", cloudflare: { account_id: cf.accountId, zone: cf.zone.name, api_token: "env:CF_TOKEN_FOR_DEVX" } } };
  const env = { CF_TOKEN_FOR_DEVX: cf.token, DEVX_CLOUDFLARE_API: cf.url, USER: opts.user ?? "dev", HOME: home };
  return {
    home,
    command() {
      const t = testDeps(new ExecStub([]), { config, env });
      return { deps: t.deps, events: t.events };
    },
  };
}

/** What `vm init` does for the tunnel: create it and record its id on the machine. */
export async function initVm(m: Machine): Promise<{ s: CloudflareSetup; tunnel: Tunnel }> {
  const s = await cloudflareSetup(m.command().deps);
  const { tunnel } = await ensureVmTunnel(s);
  return { s, tunnel };
}

/** Poll `cond` until it holds (or fail after `ms`): for states the code under test reaches on its own. */
export async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export const waitingForLock = (events: DevxEvent[]) => events.some((e) => e.type === "info" && e.message.startsWith("waiting for devx"));
export const configReads = (cf: FakeCloudflare) => cf.log.filter((l) => l.startsWith("GET ") && l.includes("/configurations")).length;
export const hostsOf = (cf: FakeCloudflare, tunnelId: string) => (cf.configs.get(tunnelId)?.config.ingress ?? []).map((r) => r.hostname ?? `*${r.path ?? ""} → ${r.service}`);
export const recordNames = (cf: FakeCloudflare) => [...cf.records.values()].map((r) => r.name).sort();
