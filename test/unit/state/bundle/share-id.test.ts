import { expect, test } from "bun:test";
import { formatShareId, isObjectName, newObjectName, parseShareId } from "../../../../src/core/state/bundle/share-id.ts";
import { UsageError } from "../../../../src/errors.ts";

const OBJ = "mfrggzdfmztwq2lknnwg23tpoa.devx";
const PASS = "radar-muscular-duller-encounter";

test("object names are 128 random bits in base32 with a fixed suffix", () => {
  const names = new Set(Array.from({ length: 1000 }, () => newObjectName()));
  expect(names.size).toBe(1000);
  for (const n of names) expect(isObjectName(n)).toBe(true);
  // every base32 symbol shows up in leading positions: not a counter or a timestamp
  const firsts = new Set([...names].map((n) => n[0]));
  expect(firsts.size).toBe(32);
});

test("format and parse round-trip for every relay kind", () => {
  for (const [relay, canonical] of [
    ["s3://team-bucket/devx/shares/", "s3://team-bucket/devx/shares"],
    ["s3://team-bucket", "s3://team-bucket"],
    ["gs://team.bucket/x", "gs://team.bucket/x"],
    ["file:///mnt/shared dir", "file:///mnt/shared%20dir"],
  ] as const) {
    const id = formatShareId({ relay, object: OBJ, passphrase: PASS });
    expect(id).toBe(`${canonical}/${OBJ}:${PASS}`);
    expect(parseShareId(id)).toEqual({ relay: canonical, object: OBJ, passphrase: PASS });
    expect(parseShareId(`  ${id}\n`)).toEqual({ relay: canonical, object: OBJ, passphrase: PASS });
  }
});

test("malformed share IDs are usage errors with a hint, and never echo the passphrase", () => {
  const cases: Array<[string, string]> = [
    ["", "expected <relay-uri>/<object>:<passphrase>"],
    [PASS, "expected"],
    [`s3://bucket/${OBJ}`, "expected"],
    [`s3://bucket/${OBJ}:`, "words"],
    [`${OBJ}:${PASS}`, "expected"],
    [`s3://bucket/notanobject:${PASS}`, "not a devx bundle object name"],
    [`s3://bucket/${OBJ}:radar-muscular`, "3 to 24 words"],
    [`s3://bucket/${OBJ}:radar-muscularr-duller-encounter`, "'muscularr'"],
    [`http://bucket/${OBJ}:${PASS}`, "unsupported relay scheme"],
    [`s3://B/${OBJ}:${PASS}`, "bucket name"],
    [`file://relative/${OBJ}:${PASS}`, "absolute"],
  ];
  for (const [text, message] of cases) {
    let err: unknown;
    try {
      parseShareId(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).message).toContain(message);
    expect((err as UsageError).hint).toContain("devx state share");
    expect((err as UsageError).message).not.toContain("encounter");
  }
});
