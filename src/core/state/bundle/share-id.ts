/**
 * Share IDs: `<relay-uri>/<object>:<passphrase>`, e.g.
 * `s3://team-bucket/devx/mfrggzdfmztwq2lknnwg23tpoa.devx:radar-muscular-duller-encounter`.
 * The object name is 128 random bits in base32 plus a fixed suffix, so it reveals nothing about
 * the bundle; the passphrase never reaches the relay.
 */
import { UsageError } from "../../../errors.ts";
import { parseRelayUri } from "../../../../providers/relay/uri.ts";
import { passphraseProblem } from "./passphrase.ts";

export const OBJECT_SUFFIX = ".devx";
const OBJECT_RE = /^[a-z2-7]{26}\.devx$/;
const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";

export interface ShareId {
  /** canonical relay URI, e.g. "s3://bucket/prefix" */
  relay: string;
  object: string;
  passphrase: string;
}

/** A fresh random object name: 128 bits, base32 (26 chars), ".devx". */
export function newObjectName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  let bits = 0;
  let acc = 0;
  let out = "";
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(acc << (5 - bits)) & 31];
  return out + OBJECT_SUFFIX;
}

export function isObjectName(name: string): boolean {
  return OBJECT_RE.test(name);
}

export function formatShareId(id: ShareId): string {
  return `${parseRelayUri(id.relay).uri}/${id.object}:${id.passphrase}`;
}

const HINT = "copy the whole share ID as printed by `devx state share`: <relay-uri>/<object>:<word-word-word-word>";

/** Parse a share ID; UsageError naming what is wrong when it is malformed. */
export function parseShareId(text: string): ShareId {
  const trimmed = text.trim();
  const colon = trimmed.lastIndexOf(":");
  const slash = trimmed.lastIndexOf("/");
  if (colon < 0 || slash < 0 || colon < slash || !/^[a-z0-9]+:\/\//.test(trimmed) || colon === trimmed.indexOf("://")) {
    throw new UsageError(`malformed share ID: expected <relay-uri>/<object>:<passphrase>`, HINT);
  }
  const passphrase = trimmed.slice(colon + 1);
  const object = trimmed.slice(slash + 1, colon);
  const relayText = trimmed.slice(0, slash);
  if (!isObjectName(object)) {
    throw new UsageError(`malformed share ID: '${object}' is not a devx bundle object name`, HINT);
  }
  const problem = passphraseProblem(passphrase);
  // Never echo the passphrase itself: the message may end up in logs.
  if (problem) throw new UsageError(`malformed share ID: ${problem}`, HINT);
  let relay: string;
  try {
    relay = parseRelayUri(relayText).uri;
  } catch (e) {
    throw new UsageError(`malformed share ID: ${(e as Error).message}`, HINT);
  }
  return { relay, object, passphrase };
}
