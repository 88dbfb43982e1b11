import { expect, test } from "bun:test";
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { createEncryptStream } from "../../../src/core/state/bundle/crypto.ts";
import { newObjectName } from "../../../src/core/state/bundle/share-id.ts";
import { downloadBundle } from "../../../src/core/state/bundle-io.ts";
import type { StateDeps } from "../../../src/core/state/context.ts";
import { openRelay } from "../../../providers/relay/index.ts";
import { systemExec } from "../../../src/platform/exec.ts";
import { IntegrityError } from "../../../src/errors.ts";

/**
 * Bundles that authenticate (made with the right passphrase) but whose content is hostile or
 * inconsistent: attach must refuse them before anything outside its staging directory is written.
 */
const PW = "abandon-ability-able-about";
const root = mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "bundle-io-"));
const relayDir = join(root, "relay");
mkdirSync(relayDir);
const relay = openRelay(pathToFileURL(relayDir).href, { env: {}, exec: systemExec });
const sd = { emit: () => {}, stateDir: root } as unknown as StateDeps;
const sha = (s: string) => createHash("sha256").update(s).digest("hex");

function manifest(volumes: Array<{ name: string; file: string; body: string }>): string {
  return JSON.stringify({
    formatVersion: 1, kind: "share", name: "x", created: new Date(0).toISOString(), mode: "db-only",
    host: { os: "linux", arch: "x64" }, runtime: { name: "podman", version: "4" }, containers: [],
    volumes: volumes.map((v) => ({ name: v.name, labels: {}, file: v.file, size: v.body.length, sha256: sha(v.body), contentDigest: sha("") })),
  });
}

/** Build a tar with GNU tar (so hostile names can be stored verbatim), encrypt it, store it. */
async function bundle(build: (dir: string) => string[], tarFlags: string[] = []): Promise<string> {
  const dir = mkdtempSync(join(root, "src-"));
  const files = build(dir);
  const tarFile = join(dir, "..", `${newObjectName()}.tar`);
  const r = Bun.spawnSync(["tar", "-C", dir, "-cf", tarFile, ...tarFlags, ...files], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  const object = newObjectName();
  await pipeline(createReadStream(tarFile), createGzip(), await createEncryptStream(PW, { iterations: 100_000 }), createWriteStream(join(relayDir, object)));
  return object;
}

async function refused(object: string, re: RegExp): Promise<void> {
  const staging = join(root, `staging-${object}`);
  const err = await downloadBundle(sd, relay, object, staging, PW).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(IntegrityError);
  expect((err as Error).message).toMatch(re);
  expect(existsSync(staging)).toBe(false);
}

const good = { name: "v", file: "volumes/v.tar", body: "volume bytes" };

test("a consistent bundle unpacks and validates", async () => {
  const object = await bundle((d) => {
    writeFileSync(join(d, "manifest.json"), manifest([good]));
    mkdirSync(join(d, "volumes"));
    writeFileSync(join(d, good.file), good.body);
    return ["manifest.json", good.file];
  });
  const m = await downloadBundle(sd, relay, object, join(root, "ok"), PW);
  expect(m.volumes.map((v) => v.name)).toEqual(["v"]);
});

test("a path escaping the staging directory is refused and nothing is written outside", async () => {
  const object = await bundle((d) => {
    writeFileSync(join(d, "manifest.json"), manifest([good]));
    writeFileSync(join(d, "evil"), "x");
    return ["manifest.json", "evil"];
  }, ["-P", "--transform", "s,^evil$,../../escaped,"]);
  await refused(object, /unexpected entry/);
  expect(existsSync(join(root, "escaped"))).toBe(false);
});

test("a symlink where a volume tar belongs is refused", async () => {
  const object = await bundle((d) => {
    writeFileSync(join(d, "manifest.json"), manifest([good]));
    mkdirSync(join(d, "volumes"));
    symlinkSync("/etc/passwd", join(d, good.file));
    return ["manifest.json", good.file];
  });
  await refused(object, /unexpected entry/);
});

test("manifest not first, a file that does not match its SHA-256, an unlisted file, a missing file", async () => {
  const layout = (first: "manifest" | "volume", body: string, extra = false, listed = [good]) => (d: string) => {
    writeFileSync(join(d, "manifest.json"), manifest(listed));
    mkdirSync(join(d, "volumes"));
    writeFileSync(join(d, good.file), body);
    if (extra) writeFileSync(join(d, "volumes", "extra.tar"), "x");
    const files = first === "manifest" ? ["manifest.json", good.file] : [good.file, "manifest.json"];
    return extra ? [...files, "volumes/extra.tar"] : files;
  };
  await refused(await bundle(layout("volume", good.body)), /start with its manifest/);
  await refused(await bundle(layout("manifest", "volume bytez")), /does not match the SHA-256/);
  await refused(await bundle(layout("manifest", good.body, true)), /not listed in the manifest/);
  await refused(await bundle(layout("manifest", good.body, false, [good, { name: "w", file: "volumes/w.tar", body: "w" }])), /missing/);
});

test("an invalid manifest is refused with where it is wrong", async () => {
  const object = await bundle((d) => {
    writeFileSync(join(d, "manifest.json"), JSON.stringify({ ...JSON.parse(manifest([good])), mode: "everything" }));
    mkdirSync(join(d, "volumes"));
    writeFileSync(join(d, good.file), good.body);
    return ["manifest.json", good.file];
  });
  await refused(object, /invalid manifest at mode/);
});
