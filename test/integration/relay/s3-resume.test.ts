import { afterAll, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { pipeline } from "node:stream/promises";
import { openRelay } from "../../../providers/relay/index.ts";
import { IntegrityError, TruncatedError } from "../../../src/errors.ts";
import { relayOptions } from "./helpers.ts";

/**
 * A raw HTTP/1.1 object server on 127.0.0.1 whose connections drop mid-body, `drops` times, and
 * which honours Range and If-Match as S3 does: a dropped download must resume, byte-exact.
 */
const object = randomBytes(300 * 1024);
let drops = 0;
let etag = '"v1"';
const requests: Array<{ line: string; range?: string; ifMatch?: string }> = [];
const server = Bun.listen<{ buf: string }>({
  hostname: "127.0.0.1",
  port: 0,
  socket: {
    open(s) {
      s.data = { buf: "" };
    },
    data(s, data) {
      s.data.buf += data.toString("latin1");
      const end = s.data.buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      const [line = "", ...headerLines] = s.data.buf.slice(0, end).split("\r\n");
      s.data.buf = s.data.buf.slice(end + 4);
      const h = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
      requests.push({ line, range: h.range, ifMatch: h["if-match"] });
      if (h["if-match"] && h["if-match"] !== etag) {
        s.write(`HTTP/1.1 412 Precondition Failed\r\nContent-Type: application/xml\r\nContent-Length: 71\r\n\r\n<Error><Code>PreconditionFailed</Code><Message>x</Message></Error>     `);
        return;
      }
      const from = h.range ? Number(/bytes=(\d+)-/.exec(h.range)![1]) : 0;
      const body = object.subarray(from);
      const head = h.range
        ? `HTTP/1.1 206 Partial Content\r\nContent-Range: bytes ${from}-${object.length - 1}/${object.length}\r\n`
        : "HTTP/1.1 200 OK\r\n";
      s.write(`${head}Content-Length: ${body.length}\r\nETag: ${etag}\r\nContent-Type: application/octet-stream\r\n\r\n`);
      if (drops > 0) {
        drops--;
        s.write(body.subarray(0, Math.floor(body.length / 3)));
        s.end();
        return;
      }
      s.write(body);
    },
  },
});
afterAll(() => server.stop(true));

const relay = () =>
  openRelay("s3://bucket/p", { ...relayOptions({ AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "secret" }), endpoint: `http://127.0.0.1:${server.port}`, pathStyle: true });

async function download(): Promise<{ sha: string; progress: number }> {
  let progress = 0;
  const got = await relay().get("obj.devx", { onProgress: (b) => (progress = b) });
  const hash = createHash("sha256");
  await pipeline(got.body, async function* (src) {
    for await (const c of src) hash.update(c as Buffer);
  });
  return { sha: hash.digest("hex"), progress };
}

test("a download whose connection drops twice resumes with ranged GETs pinned to the ETag", async () => {
  drops = 2;
  requests.length = 0;
  const r = await download();
  expect(r.sha).toBe(createHash("sha256").update(object).digest("hex"));
  expect(r.progress).toBe(object.length);
  expect(requests.length).toBe(3);
  expect(requests[0]!.range).toBeUndefined();
  expect(requests[1]!.range).toBe(`bytes=${Math.floor(object.length / 3)}-`);
  expect(requests[1]!.ifMatch).toBe('"v1"');
  expect(requests[2]!.range).toMatch(/^bytes=\d+-$/);
});

test("a connection that keeps dropping ends in a TruncatedError", async () => {
  drops = 10;
  await expect(download()).rejects.toBeInstanceOf(TruncatedError);
  drops = 0;
});

test("an object replaced during the download is an IntegrityError, never a spliced stream", async () => {
  drops = 1;
  requests.length = 0;
  const got = await relay().get("obj.devx");
  etag = '"v2"';
  const drained = pipeline(got.body, async function* (src) {
    for await (const _ of src) yield;
  });
  await expect(drained).rejects.toBeInstanceOf(IntegrityError);
  etag = '"v1"';
});
