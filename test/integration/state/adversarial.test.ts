import { afterAll, beforeAll, expect, setDefaultTimeout } from "bun:test";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { HEADER_LEN, TAG_LEN, DEFAULT_CHUNK_SIZE } from "../../../src/core/state/bundle/crypto.ts";
import { newObjectName } from "../../../src/core/state/bundle/share-id.ts";
import { podmanAvailable } from "../../support/images.ts";
import { testWith } from "../../support/require.ts";
import { makeEnv, type Env } from "./fixture.ts";

setDefaultTimeout(120_000);
const ptest = testWith("podman", podmanAvailable());
let env: Env;
let relayDir: string;
let relay: string;
let object: string;
let passphrase: string;
let before: Awaited<ReturnType<Env["snapshot"]>>;
const creds = { AWS_ACCESS_KEY_ID: "devx-test", AWS_SECRET_ACCESS_KEY: "devx-test-secret" };

beforeAll(async () => {
  if (!podmanAvailable()) return;
  // an S3 endpoint on 127.0.0.1 where nothing listens: the unreachable relay
  env = makeEnv("adv", () => "state:\n  endpoint: http://127.0.0.1:9\n  path_style: true\n  region: us-east-1\n");
  env.start();
  relayDir = join(env.dir, "relay");
  relay = pathToFileURL(relayDir).href;
  const shared = await env.cli(["state", "share", "--db-only", "--relay", relay, "--json"]);
  if (shared.code !== 0) throw new Error(shared.err);
  const doc = JSON.parse(shared.out) as { id: string; object: string };
  object = doc.object;
  passphrase = doc.id.split(":").pop()!;
  before = await env.snapshot();
});
afterAll(() => env?.wipe());

/** Store a mutated copy of the bundle under a fresh object name; returns its share ID. */
function mutated(fn: (b: Buffer) => Buffer): string {
  const name = newObjectName();
  writeFileSync(join(relayDir, name), fn(Buffer.from(readFileSync(join(relayDir, object)))));
  return `${relay}/${name}:${passphrase}`;
}

/** Attach must fail with `code` and a message matching `re`, and leave this host byte-identical. */
async function rejects(id: string, code: number, re: RegExp): Promise<void> {
  const r = await env.cli(["state", "attach", "-y", id], { env: { ...process.env, ...creds } });
  expect(r.err).toMatch(re);
  expect(r.code).toBe(code);
  expect(await env.snapshot()).toEqual(before);
  // nothing was staged or kept: no restore point, no partial download
  expect(existsSync(join(env.stateDir, "state", "restore-points"))).toBe(false);
  expect(readdirSync(join(env.stateDir, "state", "tmp")).filter((f) => f.startsWith("attach-"))).toEqual([]);
}

ptest("the bundle is large enough to hold several chunks (so chunk swaps are meaningful)", () => {
  const size = readFileSync(join(relayDir, object)).length;
  expect(size).toBeGreaterThan(HEADER_LEN + 2 * (DEFAULT_CHUNK_SIZE + TAG_LEN));
});

ptest("wrong passphrase → exit 10", async () => {
  const other = passphrase.split("-").reverse().join("-");
  await rejects(`${relay}/${object}:${other}`, 10, /passphrase/i);
});

ptest("one flipped byte in the header → exit 9", async () => {
  await rejects(mutated((b) => ((b[20] = b[20]! ^ 0x01), b)), 9, /tamper|integrity|header|corrupt/i);
});

ptest("one flipped byte in the body → exit 9", async () => {
  await rejects(mutated((b) => ((b[HEADER_LEN + DEFAULT_CHUNK_SIZE + 77] = b[HEADER_LEN + DEFAULT_CHUNK_SIZE + 77]! ^ 0x80), b)), 9, /tamper|integrity|chunk/i);
});

ptest("a truncated object → exit 11", async () => {
  await rejects(mutated((b) => b.subarray(0, HEADER_LEN + DEFAULT_CHUNK_SIZE + TAG_LEN + 1000)), 11, /truncat|ends (early|before)|incomplete/i);
});

ptest("two chunks swapped → exit 9", async () => {
  const frame = DEFAULT_CHUNK_SIZE + TAG_LEN;
  await rejects(
    mutated((b) => {
      const a = Buffer.from(b.subarray(HEADER_LEN, HEADER_LEN + frame));
      b.copy(b, HEADER_LEN, HEADER_LEN + frame, HEADER_LEN + 2 * frame);
      a.copy(b, HEADER_LEN + frame);
      return b;
    }),
    9,
    /tamper|integrity|order|chunk/i,
  );
});

ptest("a malformed share ID → exit 2", async () => {
  await rejects(`${relay}/${object}`, 2, /malformed share ID/);
  await rejects(`${relay}/not-an-object:${passphrase}`, 2, /malformed share ID/);
});

ptest("an unreachable relay → exit 8", async () => {
  await rejects(`s3://devx-team-bucket/x/${object}:${passphrase}`, 8, /unreachable/i);
});

ptest("an object that does not exist → exit 4", async () => {
  await rejects(`${relay}/${newObjectName()}:${passphrase}`, 4, /no object/i);
});
