import { ProviderError } from "../../errors.ts";
import type { Emit } from "../../events/types.ts";
import type { CloudflareClient, IngressRule, TunnelConfiguration } from "../../../providers/cloudflare/client.ts";

/**
 * Editing a remotely managed tunnel's ingress without losing anyone's rules. The configuration is
 * one document written whole with no version check, so every change is: read it, apply the change
 * to what is there now, write, read again and check the result; when another writer got in between
 * (the check fails), do it again on the fresh document. Callers hold the tunnel's lock (lock.ts),
 * which rules out devx's own writers on this machine; the check catches the rest.
 *
 * Rules devx did not create are kept as they are and in their order, including a user's own
 * catch-all and path-only rules. devx's rules go just before the trailing catch-all, and the
 * `http_status:404` catch-all is added only when the configuration has none.
 */
export const CATCH_ALL: IngressRule = { service: "http_status:404" };

/** A rule that matches every request: no hostname and no path. The API requires one, last. */
export const isCatchAll = (r: IngressRule) => !r.hostname && !r.path;

export const sameRule = (a: IngressRule, b: IngressRule) => a.hostname === b.hostname && a.service === b.service && (a.path ?? "") === (b.path ?? "") && a.originRequest === undefined && b.originRequest === undefined;

/** `rules` with `rule` inserted before the trailing catch-all (a 404 catch-all when there is none). */
export function withRule(rules: IngressRule[], rule: IngressRule): IngressRule[] {
  const last = rules[rules.length - 1];
  return last && isCatchAll(last) ? [...rules.slice(0, -1), rule, last] : [...rules, rule, CATCH_ALL];
}

/** `rules` without those `drop` matches; the catch-all stays, so the document stays valid. */
export function withoutRules(rules: IngressRule[], drop: (r: IngressRule) => boolean): IngressRule[] {
  const kept = rules.filter((r) => isCatchAll(r) || !drop(r));
  return kept.length ? kept : [CATCH_ALL];
}

export interface IngressTarget {
  cf: CloudflareClient;
  accountId: string;
  tunnelId: string;
  emit: Emit;
}

export interface IngressUpdate {
  /** the rules as read before the (last) write */
  before: IngressRule[];
  /** the rules as read back after it */
  after: IngressRule[];
  wrote: boolean;
}

const MAX_ATTEMPTS = 5;

/**
 * Apply `change` to the live rules until `holds` is true of what Cloudflare has. `change` returns
 * undefined when nothing needs writing. Only `ingress` and `originRequest` are sent back: the other
 * keys of the document (`warp-routing`) are read-only in the API.
 */
export async function updateIngress(t: IngressTarget, change: (rules: IngressRule[]) => IngressRule[] | undefined, holds: (rules: IngressRule[]) => boolean, what: string): Promise<IngressUpdate> {
  let wrote = false;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const conf = await t.cf.getTunnelConfig(t.accountId, t.tunnelId);
    const before = conf.config?.ingress ?? [];
    const next = change(before);
    if (!next) {
      if (holds(before)) return { before, after: before, wrote };
    } else {
      await t.cf.putTunnelConfig(t.accountId, t.tunnelId, documentWith(conf, next));
      wrote = true;
    }
    const after = (await t.cf.getTunnelConfig(t.accountId, t.tunnelId)).config?.ingress ?? [];
    if (holds(after)) return { before, after, wrote };
    t.emit({ type: "info", message: `the configuration of tunnel ${t.tunnelId} changed while devx was writing it (${what}); merging again` });
  }
  throw new ProviderError(`the configuration of tunnel ${t.tunnelId} kept changing while devx tried to ${what}`, "another tool is writing it at the same time (the Cloudflare dashboard, or devx on another machine): retry when it is done");
}

function documentWith(conf: TunnelConfiguration, ingress: IngressRule[]): NonNullable<TunnelConfiguration["config"]> {
  const originRequest = conf.config?.originRequest;
  return originRequest ? { ingress, originRequest } : { ingress };
}
