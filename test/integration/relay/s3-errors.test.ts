import { afterAll, expect, test } from "bun:test";
import { Readable } from "node:stream";
import { openRelay } from "../../../providers/relay/index.ts";
import { NotFoundError, PermissionError, ProviderError } from "../../../src/errors.ts";
import { relayOptions } from "./helpers.ts";

/**
 * An HTTP stub answering every request with one S3 error document, as S3 does for rejected
 * credentials and policies (s3rver cannot: it does not check SigV4 signatures or policies).
 */
let reply = { status: 403, code: "AccessDenied", message: "Access Denied" };
const seen: string[] = [];
const stub = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(req) {
    seen.push(`${req.method} ${new URL(req.url).pathname}`);
    const body = req.method === "HEAD" ? null : `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${reply.code}</Code><Message>${reply.message}</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>`;
    return new Response(body, { status: reply.status, headers: { "content-type": "application/xml", "x-amz-request-id": "4442587FB7D0A2F9" } });
  },
});
afterAll(() => stub.stop(true));

const relay = () =>
  openRelay("s3://team-bucket/devx", { ...relayOptions({ AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: "s3cr3t-never-shown" }), endpoint: `http://127.0.0.1:${stub.port}`, pathStyle: true, region: "us-east-1" });

test.each([
  [403, "AccessDenied", PermissionError],
  [403, "SignatureDoesNotMatch", PermissionError],
  [403, "InvalidAccessKeyId", PermissionError],
  [400, "ExpiredToken", PermissionError],
  [404, "NoSuchBucket", NotFoundError],
  [404, "NoSuchKey", NotFoundError],
  [501, "NotImplemented", ProviderError],
] as const)("HTTP %d %s maps to its devx error, with a hint and no secret", async (status, code, cls) => {
  reply = { status, code, message: `${code} from the stub` };
  const err = await relay()
    .get("mfrggzdfmztwq2lknnwg23tpoa.devx")
    .catch((e) => e);
  expect(err).toBeInstanceOf(cls);
  expect(err.hint.length).toBeGreaterThan(10);
  expect(`${err.message} ${err.hint}`).not.toContain("s3cr3t");
  expect(err.message).toContain("s3://team-bucket/devx");
});

test("a rejected upload reports a PermissionError naming the credentials to fix", async () => {
  reply = { status: 403, code: "AccessDenied", message: "Access Denied" };
  seen.length = 0;
  const err = await relay()
    .put("mfrggzdfmztwq2lknnwg23tpoa.devx", Readable.from([Buffer.from("ciphertext")]))
    .catch((e) => e);
  expect(err).toBeInstanceOf(PermissionError);
  expect(err.hint).toContain("s3:PutObject");
  expect(seen).toEqual(["PUT /team-bucket/devx/mfrggzdfmztwq2lknnwg23tpoa.devx"]);
});

test("a missing object is 'undefined' for head, a missing bucket is an error for list", async () => {
  reply = { status: 404, code: "NotFound", message: "" };
  expect(await relay().head("mfrggzdfmztwq2lknnwg23tpoa.devx")).toBeUndefined();
  reply = { status: 404, code: "NoSuchBucket", message: "The specified bucket does not exist" };
  await expect(relay().list()).rejects.toBeInstanceOf(NotFoundError);
});
