import { expect, test } from "bun:test";
import { objectKey, parseRelayUri } from "../../../../providers/relay/uri.ts";
import { UsageError } from "../../../../src/errors.ts";

test("relay URIs parse to a canonical form", () => {
  expect(parseRelayUri("s3://team-bucket")).toEqual({ scheme: "s3", bucket: "team-bucket", prefix: "", uri: "s3://team-bucket" });
  expect(parseRelayUri("s3://team-bucket/")).toMatchObject({ prefix: "", uri: "s3://team-bucket" });
  expect(parseRelayUri("s3://team.bucket//a//b/")).toMatchObject({ prefix: "a/b", uri: "s3://team.bucket/a/b" });
  expect(parseRelayUri("gs://g_bucket/devx")).toMatchObject({ scheme: "gs", bucket: "g_bucket", prefix: "devx" });
  expect(parseRelayUri("file:///srv/shared/")).toEqual({ scheme: "file", dir: "/srv/shared", uri: "file:///srv/shared" });
  expect(parseRelayUri("file:///srv/a%20b")).toMatchObject({ dir: "/srv/a b", uri: "file:///srv/a%20b" });
  expect(objectKey("", "x.devx")).toBe("x.devx");
  expect(objectKey("a/b", "x.devx")).toBe("a/b/x.devx");
});

test("bad relay URIs are usage errors that say what to write", () => {
  for (const [uri, message] of [
    ["bucket/prefix", "not a relay URI"],
    ["https://bucket.s3.amazonaws.com", "unsupported relay scheme"],
    ["s3://", "bucket name"],
    ["s3://ab", "bucket name"],
    ["s3://Team", "bucket name"],
    ["s3://-bucket", "bucket name"],
    ["file://host/dir", "absolute path"],
  ] as const) {
    let err: unknown;
    try {
      parseRelayUri(uri);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).message).toContain(message);
    expect((err as UsageError).hint.length).toBeGreaterThan(10);
  }
});
