import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { pathToFileURL } from "node:url";
import { openRelay } from "../../../providers/relay/index.ts";
import { newObjectName } from "../../../src/core/state/bundle/share-id.ts";
import { encryptedSize } from "../../../src/core/state/bundle/crypto.ts";
import { CancelledError, NotFoundError, PermissionError, TruncatedError, UsageError } from "../../../src/errors.ts";
import { MiB, peakRssGrowth, relayOptions, roundTrip } from "./helpers.ts";

const root = mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "file-relay-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

test("192 MiB round-trip through a file relay, encrypted and streamed with bounded memory", async () => {
  const relay = openRelay(pathToFileURL(join(root, "shared dir")).href, relayOptions());
  const object = newObjectName();
  const total = 192 * MiB;
  const { value: r, growthMiB } = await peakRssGrowth(() => roundTrip(relay, object, total));
  expect(r.received.sha256).toBe(r.sent);
  expect(r.received.bytes).toBe(total);
  expect(r.put.bytes).toBe(encryptedSize(total));
  expect(r.putProgress).toBe(r.put.bytes);
  expect(r.size).toBe(r.put.bytes);
  // holding the bundle in memory would need > 192 MiB; streaming holds a few frames plus collector
  // slack, which the RSS shows noisily on a busy machine (the exact bound is maxAheadMiB below)
  expect(growthMiB).toBeLessThan(192);
  expect(r.maxAheadMiB).toBeLessThan(8);
  expect(await relay.head(object)).toEqual({ size: r.put.bytes });
  expect((await relay.list()).map((o) => o.object)).toEqual([object]);
  // only the object itself: no temp file left behind
  expect(readdirSync(join(root, "shared dir"))).toEqual([object]);
  await relay.delete(object);
  expect(await relay.head(object)).toBeUndefined();
  await relay.delete(object);
});

test("a failed upload leaves no object and no temp file", async () => {
  const dir = join(root, "failing");
  const relay = openRelay(pathToFileURL(dir).href, relayOptions());
  const body = new Readable({ read() {} });
  body.push(Buffer.alloc(1000));
  setImmediate(() => body.destroy(new Error("podman export crashed")));
  await expect(relay.put("abc.devx", body)).rejects.toThrow("podman export crashed");
  expect(readdirSync(dir)).toEqual([]);
});

test("an aborted upload is a CancelledError and leaves nothing", async () => {
  const dir = join(root, "aborted");
  const relay = openRelay(pathToFileURL(dir).href, relayOptions());
  const ac = new AbortController();
  const body = new Readable({ read() {} });
  body.push(Buffer.alloc(1000));
  const p = relay.put("abc.devx", body, { signal: ac.signal, onProgress: () => ac.abort() });
  await expect(p).rejects.toBeInstanceOf(CancelledError);
  expect(readdirSync(dir)).toEqual([]);
});

test("a download shorter than the object's size is a TruncatedError", async () => {
  const dir = join(root, "short");
  const relay = openRelay(pathToFileURL(dir).href, relayOptions());
  await relay.put("obj.devx", Readable.from([Buffer.alloc(4096, 1)]));
  const got = await relay.get("obj.devx");
  // the object shrinks between stat and read: what an interrupted transfer looks like
  writeFileSync(join(dir, "obj.devx"), Buffer.alloc(100));
  const drain = pipeline(got.body, async function* (s) {
    for await (const _ of s) yield;
  });
  await expect(drain).rejects.toBeInstanceOf(TruncatedError);
});

test("errors: missing object, bad names, bad URIs, unwritable directory", async () => {
  const relay = openRelay(pathToFileURL(join(root, "errors")).href, relayOptions());
  await expect(relay.get("nothing.devx")).rejects.toBeInstanceOf(NotFoundError);
  expect(await relay.list()).toEqual([]);
  await expect(relay.put("../escape", Readable.from([]))).rejects.toBeInstanceOf(UsageError);
  await expect(relay.put(".hidden", Readable.from([]))).rejects.toBeInstanceOf(UsageError);
  expect(() => openRelay("file://relative/dir", relayOptions())).toThrow(UsageError);
  expect(() => openRelay("ftp://host/dir", relayOptions())).toThrow(UsageError);
  expect(await relay.check()).toContain("writable");
  if (process.getuid?.() !== 0) {
    const ro = join(root, "readonly");
    rmSync(ro, { recursive: true, force: true });
    writeFileSync(join(root, "placeholder"), "");
    chmodSync(root, 0o500);
    try {
      await expect(openRelay(pathToFileURL(ro).href, relayOptions()).check()).rejects.toBeInstanceOf(PermissionError);
    } finally {
      chmodSync(root, 0o700);
    }
  }
});
