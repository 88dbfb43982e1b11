import { afterAll, beforeAll, expect, test } from "bun:test";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { openRelay } from "../../../providers/relay/index.ts";
import { createDecryptStream, createEncryptStream } from "../../../src/core/state/bundle/crypto.ts";
import { NotFoundError, PermissionError, ProviderError } from "../../../src/errors.ts";
import { startS3Server, type S3Server } from "../../support/s3-server.ts";
import { testWith } from "../../support/require.ts";
import { ExecStub } from "./exec-stub.ts";
import { hashSink, MiB, PASS, recordingProxy, relayOptions, roundTrip, source } from "./helpers.ts";

const s3test = testWith("s3", Bun.which("node") !== null);
let server: S3Server;
beforeAll(async () => {
  if (Bun.which("node")) server = await startS3Server();
});
afterAll(() => server?.stop());

s3test("with HMAC keys, gs:// goes through the S3-compatible XML API, path-style", async () => {
  const proxy = recordingProxy(server.endpoint);
  try {
    const env = { GCS_HMAC_ACCESS_KEY_ID: server.accessKeyId, GCS_HMAC_SECRET: server.secretAccessKey };
    const relay = openRelay(`gs://${server.bucket}/team`, { env, exec: new ExecStub(false), endpoint: proxy.endpoint }, { partSize: 5 * MiB });
    expect(relay.uri).toBe(`gs://${server.bucket}/team`);
    const r = await roundTrip(relay, "abcdefghijklmnopqrstuvwxyz.devx", 12 * MiB);
    expect(r.received.sha256).toBe(r.sent);
    expect((await relay.list()).map((o) => o.object)).toEqual(["abcdefghijklmnopqrstuvwxyz.devx"]);
    // multipart upload parts addressed path-style under the prefix
    expect(proxy.seen.some((s) => s.startsWith(`PUT /${server.bucket}/team/abcdefghijklmnopqrstuvwxyz.devx?`) && s.includes("partNumber=2"))).toBe(true);
  } finally {
    proxy.stop();
  }
});

const LS = (url: string, size: number) => `${String(size).padStart(12)}  2026-11-23T09:00:00Z  ${url}\nTOTAL: 1 objects, ${size} bytes\n`;

test("without HMAC keys, gs:// streams through the gcloud CLI (cp - / cat), byte-exact", async () => {
  const url = "gs://team-bucket/devx/obj.devx";
  let stored: Buffer = Buffer.alloc(0);
  const exec = new ExecStub().expectSpawn({ argv: ["gcloud", "storage", "cp", "-", url], onStdin: (d) => (stored = d) });
  const relay = openRelay("gs://team-bucket/devx", relayOptions({}), undefined);
  const gcloud = openRelay("gs://team-bucket/devx", { env: {}, exec });
  expect(relay.uri).toBe(gcloud.uri);

  const src = source(3 * MiB);
  const put = await gcloud.put("obj.devx", src.stream.pipe(await createEncryptStream(PASS, { iterations: 1000 })));
  expect(put.bytes).toBe(stored.length);

  exec
    .expectRun(["gcloud", "storage", "ls", "-l", url], { stdout: LS(url, stored.length) })
    .expectSpawn({ argv: ["gcloud", "storage", "cat", url], stdout: stored });
  const got = await gcloud.get("obj.devx");
  expect(got.size).toBe(stored.length);
  const sink = hashSink();
  await pipeline(got.body, createDecryptStream(PASS, { allowWeakIterations: true }), sink.stream);
  expect(sink.result().sha256).toBe(src.sha256());

  exec
    .expectRun(["gcloud", "storage", "ls", "-l", "gs://team-bucket/devx/"], {
      stdout: `${LS(url, 10).split("\n")[0]}\n         5  2026-11-23T09:01:00Z  gs://team-bucket/devx/.devx-check-1\n         7  2026-11-23T09:02:00Z  gs://team-bucket/devx/sub/x.devx\nTOTAL: 3 objects, 22 bytes\n`,
    })
    .expectRun(["gcloud", "storage", "rm", url], {});
  expect(await gcloud.list()).toEqual([{ object: "obj.devx", size: 10, modified: new Date("2026-11-23T09:00:00Z") }]);
  await gcloud.delete("obj.devx");
  exec.verify();
});

test("gcloud failures map to typed errors", async () => {
  const url = "gs://team-bucket/obj.devx";
  const exec = new ExecStub()
    .expectRun(["gcloud", "storage", "ls", "-l", url], { code: 1, stderr: "ERROR: (gcloud.storage.ls) One or more URLs matched no objects.\n" })
    .expectRun(["gcloud", "storage", "ls", "-l", url], { code: 1, stderr: "ERROR: (gcloud.storage.ls) One or more URLs matched no objects.\n" })
    .expectRun(["gcloud", "storage", "ls", "-l", url], { code: 1, stderr: "ERROR: (gcloud.storage.ls) You do not currently have an active account selected. Please run:\n  $ gcloud auth login\n" })
    .expectSpawn({ argv: ["gcloud", "storage", "cp", "-", url], code: 1, stderr: "ERROR: HTTPError 403: alice@example.com does not have storage.objects.create access to the Google Cloud Storage object.\n", onStdin: () => {} })
    .expectRun(["gcloud", "storage", "ls", "-l", url], { stdout: LS(url, 100) })
    .expectSpawn({ argv: ["gcloud", "storage", "cat", url], code: 1, stderr: "ERROR: HTTPError 404: bucket does not exist\n" });
  const relay = openRelay("gs://team-bucket", { env: {}, exec });
  expect(await relay.head("obj.devx")).toBeUndefined();
  await expect(relay.get("obj.devx")).rejects.toBeInstanceOf(NotFoundError);
  const auth = await relay.head("obj.devx").catch((e) => e);
  expect(auth).toBeInstanceOf(PermissionError);
  expect(auth.hint).toContain("gcloud auth login");
  await expect(relay.put("obj.devx", Readable.from([Buffer.from("x")]))).rejects.toBeInstanceOf(PermissionError);
  const got = await relay.get("obj.devx");
  const drained = pipeline(got.body, async function* (s) {
    for await (const _ of s) yield;
  });
  await expect(drained).rejects.toBeInstanceOf(NotFoundError);
  exec.verify();

  const missing = openRelay("gs://team-bucket", { env: {}, exec: new ExecStub(false) });
  const e = await missing.head("obj.devx").catch((x) => x);
  expect(e).toBeInstanceOf(ProviderError);
  expect(e.hint).toContain("GCS_HMAC_ACCESS_KEY_ID");
});

test("a failing producer stops the gcloud upload (killed, never finalised) and keeps its own error", async () => {
  let finalised = false;
  const exec = new ExecStub().expectSpawn({ argv: ["gcloud", "storage", "cp", "-", "gs://team-bucket/obj.devx"], onStdin: () => (finalised = true) });
  const relay = openRelay("gs://team-bucket", { env: {}, exec });
  const body = new Readable({ read() {} });
  body.push(Buffer.from("first bytes"));
  setImmediate(() => body.destroy(new Error("tar failed")));
  const err = await relay.put("obj.devx", body).catch((e) => e);
  expect(err.message).toBe("tar failed");
  // stdin was never closed: gcloud saw no end of input, so GCS never finalises the object
  expect(finalised).toBe(false);
  expect(exec.killed).toEqual([["gcloud", "storage", "cp", "-", "gs://team-bucket/obj.devx"]]);
  exec.verify();
});
