import { afterAll, beforeAll, expect } from "bun:test";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { S3Client, PutObjectCommand } from "@aws-sdk/client-s3";
import { openRelay } from "../../../providers/relay/index.ts";
import { newObjectName } from "../../../src/core/state/bundle/share-id.ts";
import { encryptedSize } from "../../../src/core/state/bundle/crypto.ts";
import { CancelledError, NetworkError, NotFoundError, PermissionError, TruncatedError } from "../../../src/errors.ts";
import { startS3Server, type S3Server } from "../../support/s3-server.ts";
import { testWith } from "../../support/require.ts";
import { MiB, recordingProxy, relayOptions, roundTrip } from "./helpers.ts";

// s3rver is a devDependency run by node: present whenever `bun install` ran and node exists.
const s3test = testWith("s3", Bun.which("node") !== null);

let server: S3Server;
beforeAll(async () => {
  if (Bun.which("node")) server = await startS3Server();
});
afterAll(() => server?.stop());

/** Credentials go through the relay's env, as the AWS credential chain would read them. */
const env = () => ({ AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey });
const relayAt = (uri: string, e: Record<string, string | undefined> = env(), endpoint = server.endpoint) =>
  openRelay(uri, { ...relayOptions(e), endpoint, region: server.region }, { partSize: 5 * MiB, concurrency: 3 });

const rawClient = () =>
  new S3Client({ endpoint: server.endpoint, region: server.region, forcePathStyle: true, credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey }, requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" });

s3test("64 MiB round-trips through S3 multipart upload and streaming download with bounded memory", async () => {
  const relay = relayAt(`s3://${server.bucket}/team/shares/`);
  expect(relay.uri).toBe(`s3://${server.bucket}/team/shares`);
  const object = newObjectName();
  const total = 64 * MiB;
  const r = await roundTrip(relay, object, total);
  expect(r.received.sha256).toBe(r.sent);
  expect(r.received.bytes).toBe(total);
  expect(r.put.bytes).toBe(encryptedSize(total));
  expect(r.putProgress).toBe(r.put.bytes);
  expect(r.size).toBe(r.put.bytes);
  // the upload holds at most 3 parts of 5 MiB in flight, one filling and the streams' buffers
  expect(r.maxAheadMiB).toBeLessThan(5 * 5 + 2);
  expect(r.maxAheadMiB).toBeGreaterThan(5);

  expect(await relay.head(object)).toEqual({ size: r.put.bytes });
  const listed = await relay.list();
  expect(listed.map((o) => o.object)).toEqual([object]);
  expect(listed[0]!.size).toBe(r.put.bytes);
  await relay.delete(object);
  expect(await relay.head(object)).toBeUndefined();
}, 120_000);

s3test("small objects use a single PutObject; the prefix isolates relays; check() probes without leaving objects", async () => {
  const a = relayAt(`s3://${server.bucket}/a`);
  const b = relayAt(`s3://${server.bucket}/b`);
  await a.put("small.devx", Readable.from([Buffer.from("tiny")]));
  await a.put("empty.devx", Readable.from([]));
  expect(await a.head("small.devx")).toEqual({ size: 4 });
  expect(await a.head("empty.devx")).toEqual({ size: 0 });
  expect(await b.list()).toEqual([]);
  expect(await a.check()).toContain("reachable and writable");
  expect((await a.list()).map((o) => o.object)).toEqual(["empty.devx", "small.devx"]);
  const got = await a.get("small.devx");
  const chunks: Buffer[] = [];
  await pipeline(got.body, async function* (s) {
    for await (const c of s) chunks.push(c as Buffer);
  });
  expect(Buffer.concat(chunks).toString()).toBe("tiny");
  await a.delete("small.devx");
  await a.delete("empty.devx");
});

s3test("a failed multipart upload is aborted: no object, no completion, an AbortMultipartUpload sent", async () => {
  // s3rver implements neither ListMultipartUploads nor the abort itself, so watch the requests instead.
  const proxy = recordingProxy(server.endpoint);
  try {
    const relay = relayAt(`s3://${server.bucket}/failing`, env(), proxy.endpoint);
    let sent = 0;
    const body = new Readable({
      read() {
        // fail after two parts have been handed over
        if (sent >= 12 * MiB) return void this.destroy(new Error("checkpoint export failed"));
        sent += MiB;
        this.push(Buffer.alloc(MiB, 7));
      },
    });
    const err = await relay.put("broken.devx", body).catch((e) => e);
    expect(err.message).toContain("checkpoint export failed");
    expect(await relay.head("broken.devx")).toBeUndefined();
    const key = `/${server.bucket}/failing/broken.devx`;
    expect(proxy.seen.filter((r) => r.startsWith(`PUT ${key}?`) && r.includes("partNumber=")).length).toBeGreaterThanOrEqual(2);
    expect(proxy.seen.some((r) => r.startsWith(`DELETE ${key}?`) && r.includes("uploadId="))).toBe(true);
    expect(proxy.seen.some((r) => r.startsWith(`POST ${key}?uploadId=`))).toBe(false);
  } finally {
    proxy.stop();
  }
});

s3test("Ctrl-C during a multipart upload is a CancelledError and aborts the upload", async () => {
  const proxy = recordingProxy(server.endpoint);
  try {
    const relay = relayAt(`s3://${server.bucket}/cancel`, env(), proxy.endpoint);
    const ac = new AbortController();
    let produced = 0;
    const body = new Readable({
      read() {
        produced += MiB;
        this.push(produced > 64 * MiB ? null : Buffer.alloc(MiB, 3));
      },
    });
    // abort as soon as the first part is stored
    const err = await relay.put("cancelled.devx", body, { signal: ac.signal, onProgress: () => ac.abort() }).catch((e) => e);
    expect(err).toBeInstanceOf(CancelledError);
    expect(produced).toBeLessThan(40 * MiB);
    expect(await relay.head("cancelled.devx")).toBeUndefined();
    const key = `/${server.bucket}/cancel/cancelled.devx`;
    expect(proxy.seen.some((r) => r.startsWith(`DELETE ${key}?`) && r.includes("uploadId="))).toBe(true);
    expect(proxy.seen.some((r) => r.startsWith(`POST ${key}?uploadId=`))).toBe(false);
  } finally {
    proxy.stop();
  }
});

s3test("a download cut short by the connection is a TruncatedError", async () => {
  // A raw HTTP/1.1 responder that announces the full length, sends half the body and closes the
  // connection: what a dropped download looks like on the wire.
  const full = Buffer.alloc(256 * 1024, 1);
  let request = "";
  const cutter = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket, data) {
        request += data.toString("latin1");
        if (!request.includes("\r\n\r\n")) return;
        socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${full.length}\r\nContent-Type: application/octet-stream\r\nETag: "x"\r\n\r\n`);
        socket.write(full.subarray(0, full.length / 2));
        socket.end();
      },
    },
  });
  try {
    const got = await relayAt(`s3://${server.bucket}/trunc`, env(), `http://127.0.0.1:${cutter.port}`).get("obj.devx");
    expect(request).toStartWith(`GET /${server.bucket}/trunc/obj.devx`);
    expect(got.size).toBe(256 * 1024);
    let received = 0;
    const drained = pipeline(got.body, async function* (s) {
      for await (const c of s) received += (c as Buffer).length;
    });
    await expect(drained).rejects.toBeInstanceOf(TruncatedError);
    expect(received).toBeLessThan(256 * 1024);
  } finally {
    cutter.stop(true);
  }
});

s3test("SDK errors map to devx errors with hints", async () => {
  const missing = relayAt("s3://no-such-bucket-here/x");
  await expect(missing.check()).rejects.toBeInstanceOf(NotFoundError);
  await expect(missing.list()).rejects.toBeInstanceOf(NotFoundError);
  await expect(missing.put("a.devx", Readable.from([Buffer.from("x")]))).rejects.toBeInstanceOf(NotFoundError);
  await expect(relayAt(`s3://${server.bucket}/x`).get("absent.devx")).rejects.toBeInstanceOf(NotFoundError);

  const badKey = relayAt(`s3://${server.bucket}/x`, { AWS_ACCESS_KEY_ID: "WRONG", AWS_SECRET_ACCESS_KEY: server.secretAccessKey });
  const e1 = await badKey.put("a.devx", Readable.from([Buffer.from("x")])).catch((e) => e);
  expect(e1).toBeInstanceOf(PermissionError);
  expect(e1.hint).toContain("AWS");
  await expect(badKey.check()).rejects.toBeInstanceOf(PermissionError);
  // s3rver does not verify SigV4 signatures, so a wrong secret cannot be tested against it.

  // a port nothing listens on (bound then closed)
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const deadPort = probe.port;
  probe.stop(true);
  const unreachable = relayAt("s3://bucket/x", env(), `http://127.0.0.1:${deadPort}`);
  const e3 = await unreachable.check().catch((e) => e);
  expect(e3).toBeInstanceOf(NetworkError);
  expect(e3.message).toContain("unreachable");
}, 60_000);

s3test("objects written by other tools under the prefix are listed, probe files are not", async () => {
  const relay = relayAt(`s3://${server.bucket}/mixed`);
  await rawClient().send(new PutObjectCommand({ Bucket: server.bucket, Key: "mixed/.devx-check-leftover", Body: "" }));
  await rawClient().send(new PutObjectCommand({ Bucket: server.bucket, Key: "mixed/nested/deeper.devx", Body: "" }));
  await rawClient().send(new PutObjectCommand({ Bucket: server.bucket, Key: "mixed/top.devx", Body: "abc" }));
  expect((await relay.list()).map((o) => [o.object, o.size])).toEqual([["top.devx", 3]]);
});
