import { expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Readable } from "node:stream";
import { downloadBundle, DOWNLOAD_LIMITS } from "../../../src/core/state/bundle-io.ts";
import type { StateDeps } from "../../../src/core/state/state-deps.ts";
import { openRelay } from "../../../providers/relay/index.ts";
import { systemExec } from "../../../src/platform/exec.ts";
import { ConflictError, IntegrityError } from "../../../src/errors.ts";
import { bundleTar, craftTar, storeBundle, volumeManifest, type CraftVolume } from "../../support/bundle-craft.ts";

/**
 * Bundles that authenticate (made with the right passphrase) but whose content is hostile or
 * inconsistent: attach must refuse them while they stream, before anything outside its staging
 * directory is written — and for a bundle that lies about its size, before the staging directory
 * fills up.
 */
setDefaultTimeout(60_000);
const PW = "abandon-ability-able-about";
const root = mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "bundle-io-"));
const relayDir = join(root, "relay");
mkdirSync(relayDir);
const relay = openRelay(pathToFileURL(relayDir).href, { env: {}, exec: systemExec });
const sd = { emit: () => {}, stateDir: root } as unknown as StateDeps;

const good: CraftVolume = { name: "v", tar: craftTar([{ path: "known.txt", body: "hello devx\n" }, { path: "pg/", type: "Directory", mode: 0o700 }, { path: "pg/blob", body: Buffer.alloc(5000, 7) }]) };

async function refused(object: string, kind: new (...a: never[]) => Error, re: RegExp, limits = DOWNLOAD_LIMITS): Promise<string> {
  const staging = join(root, `staging-${object}`);
  const err = await downloadBundle(sd, relay, object, staging, PW, limits).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(kind);
  expect((err as Error).message).toMatch(re);
  expect(existsSync(staging)).toBe(false);
  return staging;
}

test("a consistent bundle unpacks, and each volume's setuid files are reported", async () => {
  const suid: CraftVolume = { name: "w", tar: craftTar([{ path: "su", body: "elf", mode: 0o4755 }]) };
  const object = await storeBundle(relayDir, PW, bundleTar(await volumeManifest([good, suid]), [good, suid]));
  const got = await downloadBundle(sd, relay, object, join(root, "ok"), PW);
  expect(got.manifest.volumes.map((v) => v.name)).toEqual(["v", "w"]);
  expect(got.setuid).toEqual({ w: { paths: ["su"], count: 1 } });
  expect(readdirSync(join(root, "ok", "volumes")).sort()).toEqual(["v.tar", "w.tar"]);
});

test("a volume tar that writes through its own symlink is refused before anything extracts it", async () => {
  const evil: CraftVolume = { name: "v", tar: craftTar([{ path: "d", type: "SymbolicLink", linkpath: "/tmp" }, { path: "d/devx-pwned", body: "x" }]) };
  await refused(await storeBundle(relayDir, PW, bundleTar(await volumeManifest([evil]), [evil])), IntegrityError, /volume v: entry 'd\/devx-pwned' passes through the symbolic link 'd'/);
});

test("device nodes and hard links out of a volume are refused", async () => {
  const dev: CraftVolume = { name: "v", tar: craftTar([{ path: "kmem", type: "CharacterDevice" }]) };
  await refused(await storeBundle(relayDir, PW, bundleTar(await volumeManifest([dev]), [dev])), IntegrityError, /device node/);
  const link: CraftVolume = { name: "v", tar: craftTar([{ path: "shadow", type: "Link", linkpath: "/etc/shadow" }]) };
  await refused(await storeBundle(relayDir, PW, bundleTar(await volumeManifest([link]), [link])), IntegrityError, /absolute path/);
});

test("a volume whose content does not match its digest is refused, even with a matching SHA-256", async () => {
  const m = await volumeManifest([good]);
  (m.volumes as Array<{ contentDigest: string }>)[0]!.contentDigest = "0".repeat(64);
  await refused(await storeBundle(relayDir, PW, bundleTar(m, [good])), IntegrityError, /content does not match the manifest's digest/);
});

test("an entry larger than the manifest declares is refused at its header: a small bundle cannot fill the disk", async () => {
  // 64 MiB of zeros gzips to ~64 KiB; the manifest says 5 KiB
  const big = Buffer.alloc(64 << 20);
  const m = await volumeManifest([good]);
  const object = await storeBundle(relayDir, PW, bundleTar(m, [good], (e) => [e[0]!, { path: "volumes/v.tar", body: big }]));
  const staging = await refused(object, IntegrityError, /is 67108864 bytes in the bundle; its manifest says/);
  expect(existsSync(staging)).toBe(false);
});

test("a manifest larger than the limit is refused at its header, without being read", async () => {
  const m = { ...(await volumeManifest([good])), name: "x".repeat(2048) };
  const object = await storeBundle(relayDir, PW, bundleTar(m, [good]));
  await refused(object, IntegrityError, /manifest is \d+ bytes; devx reads at most 1024/, { ...DOWNLOAD_LIMITS, manifestBytes: 1024 });
});

test("a bundle declaring more than the disk holds is refused before a byte of it is written", async () => {
  const m = await volumeManifest([good]);
  await refused(await storeBundle(relayDir, PW, bundleTar(m, [good])), ConflictError, /GiB free/, { ...DOWNLOAD_LIMITS, reserveBytes: 2 ** 60 });
});

test("manifest not first, a file that does not match its SHA-256, an unlisted file, a missing file, files out of order", async () => {
  const other: CraftVolume = { name: "w", tar: craftTar([{ path: "w", body: "w" }]) };
  const m = await volumeManifest([good]);
  await refused(await storeBundle(relayDir, PW, bundleTar(m, [good], (e) => [e[1]!, e[0]!])), IntegrityError, /start with its manifest/);
  const tampered = Buffer.from(good.tar);
  tampered[600] = tampered[600]! ^ 1;
  await refused(await storeBundle(relayDir, PW, bundleTar(m, [good], (e) => [e[0]!, { path: "volumes/v.tar", body: tampered }])), IntegrityError, /does not match the SHA-256/);
  await refused(await storeBundle(relayDir, PW, bundleTar(m, [good], (e) => [...e, { path: "volumes/extra.tar", body: "x" }])), IntegrityError, /unexpected entry 'volumes\/extra.tar'/);
  const two = await volumeManifest([good, other]);
  await refused(await storeBundle(relayDir, PW, bundleTar(two, [good])), IntegrityError, /volumes\/w.tar listed in the manifest is missing/);
  await refused(await storeBundle(relayDir, PW, bundleTar(two, [other, good])), IntegrityError, /unexpected entry 'volumes\/w.tar'/);
});

test("a path escaping the staging directory or a symlink where a volume belongs is refused", async () => {
  const m = await volumeManifest([good]);
  await refused(await storeBundle(relayDir, PW, bundleTar(m, [good], (e) => [e[0]!, { path: "../../escaped", body: "x" }])), IntegrityError, /unexpected entry/);
  expect(existsSync(join(root, "escaped"))).toBe(false);
  await refused(await storeBundle(relayDir, PW, bundleTar(m, [good], (e) => [e[0]!, { path: "volumes/v.tar", type: "SymbolicLink", linkpath: "/etc/passwd" }])), IntegrityError, /unexpected entry/);
});

test("an invalid manifest is refused with where it is wrong; too many volumes are refused", async () => {
  const m = { ...(await volumeManifest([good])), mode: "everything" };
  await refused(await storeBundle(relayDir, PW, bundleTar(m, [good])), IntegrityError, /invalid manifest at mode/);
  const many = await volumeManifest([good]);
  const one = (many.volumes as unknown[])[0];
  many.volumes = Array.from({ length: 1025 }, () => one);
  await refused(await storeBundle(relayDir, PW, Readable.from([bundleTar(many, [])])), IntegrityError, /invalid manifest at volumes/);
});
