/**
 * Workspace persistence (src/core/session/workspace) against a real S3 server (s3rver) and a
 * file:// relay: byte-exact round trips, incremental pushes, deletions, excludes, encryption that
 * leaves no plaintext in the bucket, a push killed midway, gc, and hostile manifests.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { openRelay, type Relay } from "../../../providers/relay/index.ts";
import { createCheckpointer, deriveWorkspaceKey, gcWorkspace, pullWorkspace, pushWorkspace } from "../../../src/core/session/workspace/index.ts";
import { blobName, manifestName, packName } from "../../../src/core/session/workspace/format.ts";
import { bufferStream } from "../../../src/core/session/workspace/io.ts";
import { ConflictError, IntegrityError, NetworkError, NotFoundError, UsageError } from "../../../src/errors.ts";
import { systemExec } from "../../../src/platform/exec.ts";
import { startS3Server, type S3Server } from "../../support/s3-server.ts";
import { testWith } from "../../support/require.ts";

// s3rver on a shared 2-core machine: the encrypted round trip alone can take seconds
setDefaultTimeout(120_000);
const hasNode = Bun.which("node") !== null;
const root = mkdtempSync(join(process.env.DEVX_TEST_ROOT ?? tmpdir(), "devx-ws-"));
let server: S3Server | undefined;
beforeAll(async () => {
  if (hasNode) server = await startS3Server();
});
afterAll(async () => {
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
const fresh = (what: string) => {
  const d = join(root, `${what}-${++n}`);
  mkdirSync(d, { recursive: true });
  return d;
};

type Kind = "file" | "s3";
/** A relay of the given kind plus the directory its bytes land in (to grep for plaintext). */
function relayOf(kind: Kind): { relay: Relay; storage: string } {
  if (kind === "file") {
    const dir = fresh("relay");
    return { relay: openRelay(pathToFileURL(dir).href, { env: {}, exec: systemExec }), storage: dir };
  }
  const s = server!;
  const sub = `ws${++n}`;
  const relay = openRelay(`s3://${s.bucket}/${sub}`, { env: { AWS_ACCESS_KEY_ID: s.accessKeyId, AWS_SECRET_ACCESS_KEY: s.secretAccessKey }, exec: systemExec, endpoint: s.endpoint, region: s.region });
  // s3rver keeps each object under <directory>/<bucket>/<key>: this relay's own objects only
  const storage = join(s.directory, s.bucket, sub);
  mkdirSync(storage, { recursive: true });
  return { relay, storage };
}

/** The tree as comparable data: kind, mode, content hash or link target (lstat: links never followed). */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const abs = join(dir, path);
      const st = lstatSync(abs);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[path] = `link -> ${readlinkSync(abs)}`;
      else if (st.isDirectory()) {
        out[path] = `dir ${mode}`;
        visit(path);
      } else if (st.isFile()) out[path] = `file ${mode} ${st.size} ${createHash("sha256").update(readFileSync(abs)).digest("hex")}`;
      else out[path] = "special";
    }
  };
  visit("");
  return out;
}

const MARKER = "PLAINTEXT-MARKER-7c1e9a";

function makeTree(dir: string): void {
  mkdirSync(join(dir, "src/deep/er"), { recursive: true });
  writeFileSync(join(dir, "bin.dat"), randomBytes(300_000));
  writeFileSync(join(dir, "mid.dat"), randomBytes(2 << 20)); // above the pack threshold: its own blob
  writeFileSync(join(dir, "big.dat"), randomBytes(9 << 20)); // above the whole-file read threshold: streamed
  writeFileSync(join(dir, "empty"), "");
  writeFileSync(join(dir, "src/main.ts"), `console.log("${MARKER}");\n`);
  writeFileSync(join(dir, "src/deep/er/notes.md"), `# ${MARKER}\n`);
  writeFileSync(join(dir, "run.sh"), "#!/bin/sh\necho hi\n");
  chmodSync(join(dir, "run.sh"), 0o755);
  writeFileSync(join(dir, "secret"), "x");
  chmodSync(join(dir, "secret"), 0o600);
  mkdirSync(join(dir, "locked"));
  writeFileSync(join(dir, "locked/file"), "in a read-only dir");
  chmodSync(join(dir, "locked"), 0o555);
  symlinkSync("src/main.ts", join(dir, "link-rel"));
  symlinkSync("/etc/passwd", join(dir, "link-abs"));
  symlinkSync("does/not/exist", join(dir, "link-dangling"));
  mkdirSync(join(dir, "node_modules/pkg"), { recursive: true });
  writeFileSync(join(dir, "node_modules/pkg/index.js"), "module.exports = 1;\n");
  const fifo = Bun.spawnSync(["mkfifo", join(dir, "a-fifo")]);
  if (fifo.exitCode !== 0) throw new Error("mkfifo failed");
}

const withoutExcluded = (snap: Record<string, string>) => Object.fromEntries(Object.entries(snap).filter(([p, v]) => !p.startsWith("node_modules") && v !== "special"));

/** Fails every put after the first `after` ones (a push killed midway). */
function failingAfter(relay: Relay, after: number): Relay & { puts: string[] } {
  const puts: string[] = [];
  return {
    ...relay,
    puts,
    async put(object, body, opts) {
      if (puts.length >= after) {
        body.destroy();
        throw new NetworkError(`injected failure uploading ${object}`, "test");
      }
      puts.push(object);
      return relay.put(object, body, opts);
    },
  };
}

/** Tree-wide grep for a byte string in every regular file under `dir`. */
function grepTree(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const visit = (d: string) => {
    for (const it of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, it.name);
      if (it.isDirectory()) visit(p);
      else if (it.isFile() && readFileSync(p).includes(needle)) hits.push(p);
    }
  };
  visit(dir);
  return hits;
}

for (const kind of ["file", "s3"] as const) {
  const t = kind === "s3" ? testWith("s3", hasNode) : test;
  describe(`workspace on a ${kind} relay`, () => {
    t("round trip is byte-exact: binary, empty, modes, nested dirs, symlinks kept as links; fifo skipped, node_modules excluded", async () => {
      const { relay } = relayOf(kind);
      const src = fresh("src");
      makeTree(src);
      const pushed = await pushWorkspace(src, relay, "s1");
      expect(pushed.seq).toBe(1);
      expect(pushed.manifest.skipped).toEqual([{ path: "a-fifo", kind: "fifo" }]);
      expect(pushed.manifest.entries.some((e) => e.path.startsWith("node_modules"))).toBe(false);
      const dst = join(fresh("dst"), "ws");
      const pulled = await pullWorkspace(relay, "s1", dst);
      expect(pulled.seq).toBe(1);
      expect(snapshot(dst)).toEqual(withoutExcluded(snapshot(src)));
      expect(readlinkSync(join(dst, "link-abs"))).toBe("/etc/passwd");
      chmodSync(join(src, "locked"), 0o755);
      chmodSync(join(dst, "locked"), 0o755);
    });

    for (const [how, packFileMax, firstCount] of [["packed", undefined, 1], ["one blob per file", 0, 40]] as const) {
      t(`a second push after one file changed uploads exactly one object; an unchanged tree uploads none (${how})`, async () => {
        const { relay } = relayOf(kind);
        const src = fresh("src");
        for (let i = 0; i < 40; i++) writeFileSync(join(src, `f${i}.txt`), `file ${i}\n`);
        const first = await pushWorkspace(src, relay, "inc", { packFileMax });
        expect(first.uploaded).toBe(firstCount);
        writeFileSync(join(src, "f7.txt"), "changed\n");
        const second = await pushWorkspace(src, relay, "inc", { packFileMax });
        expect(second.seq).toBe(2);
        expect(second.uploaded).toBe(1);
        expect(second.bytes).toBe("changed\n".length);
        const third = await pushWorkspace(src, relay, "inc", { packFileMax });
        expect(third.uploaded).toBe(0);
        expect(third.seq).toBe(3);
        const dst = join(fresh("dst"), "ws");
        await pullWorkspace(relay, "inc", dst);
        expect(snapshot(dst)).toEqual(snapshot(src));
      });
    }

    t("the stat cache skips unchanged files and still sees a same-size rewrite with its mtime set back", async () => {
      const { relay } = relayOf(kind);
      const src = fresh("src");
      for (let i = 0; i < 10; i++) writeFileSync(join(src, `f${i}`), `content ${i}`);
      // a push that (by its clock) began well after these files last changed: they may be cached
      const later = () => Date.now() + 60_000;
      expect((await pushWorkspace(src, relay, "cache", { now: later })).hashed).toBe(10);
      const unchanged = await pushWorkspace(src, relay, "cache", { now: later });
      expect(unchanged.hashed).toBe(0);
      expect(unchanged.uploaded).toBe(0);
      const old = statSync(join(src, "f3"));
      writeFileSync(join(src, "f3"), "CONTENT 3");
      utimesSync(join(src, "f3"), old.atime, old.mtime);
      const sneaky = await pushWorkspace(src, relay, "cache", { now: later });
      expect(sneaky.hashed).toBe(1);
      expect(sneaky.uploaded).toBe(1);
      const dst = join(fresh("dst"), "ws");
      await pullWorkspace(relay, "cache", dst);
      expect(readFileSync(join(dst, "f3"), "utf8")).toBe("CONTENT 3");
      // files changed less than 2 s before the previous push began are always read again
      await pushWorkspace(src, relay, "cache");
      expect((await pushWorkspace(src, relay, "cache")).hashed).toBe(10);
    });

    t("a stale, forged or garbage latest-pointer neither rolls the seq back nor breaks a push", async () => {
      const { relay } = relayOf(kind);
      const src = fresh("src");
      writeFileSync(join(src, "a"), "1");
      for (let i = 0; i < 3; i++) {
        writeFileSync(join(src, "a"), `v${i}`);
        await pushWorkspace(src, relay, "ptr");
      }
      const setPointer = (text: string) => relay.put("ptr.latest", bufferStream(Buffer.from(text)));
      await setPointer(JSON.stringify({ seq: 1 })); // stale: probed forward
      expect((await pushWorkspace(src, relay, "ptr")).seq).toBe(4);
      await setPointer(JSON.stringify({ seq: 999 })); // dangling: falls back to a listing
      expect((await pushWorkspace(src, relay, "ptr")).seq).toBe(5);
      await setPointer("not json {");
      expect((await pushWorkspace(src, relay, "ptr")).seq).toBe(6);
      const dst = join(fresh("dst"), "ws");
      expect((await pullWorkspace(relay, "ptr", dst, { minSeq: 6 })).seq).toBe(6);
      expect(readFileSync(join(dst, "a"), "utf8")).toBe("v2");
    });

    t("a deletion propagates and is recorded", async () => {
      const { relay } = relayOf(kind);
      const src = fresh("src");
      mkdirSync(join(src, "d"));
      writeFileSync(join(src, "d/keep"), "k");
      writeFileSync(join(src, "d/gone"), "g");
      await pushWorkspace(src, relay, "del");
      unlinkSync(join(src, "d/gone"));
      const r = await pushWorkspace(src, relay, "del");
      expect(r.deleted).toBe(1);
      expect(r.manifest.deleted).toEqual(["d/gone"]);
      const dst = join(fresh("dst"), "ws");
      await pullWorkspace(relay, "del", dst);
      expect(Object.keys(snapshot(dst))).toEqual(["d", "d/keep"]);
    });

    t("excludes: gitignore-ish names, globs and dir-only patterns", async () => {
      const { relay } = relayOf(kind);
      const src = fresh("src");
      mkdirSync(join(src, "build/out"), { recursive: true });
      mkdirSync(join(src, "docs"));
      mkdirSync(join(src, "node_modules"));
      writeFileSync(join(src, "build/out/a.o"), "o");
      writeFileSync(join(src, "docs/build"), "a file named build stays: build/ is for directories");
      writeFileSync(join(src, "docs/debug.log"), "log");
      writeFileSync(join(src, "top.log"), "log");
      writeFileSync(join(src, "node_modules/x"), "x");
      writeFileSync(join(src, "keep.ts"), "k");
      const r = await pushWorkspace(src, relay, "exc", { excludes: ["*.log", "build/"] });
      expect(r.manifest.entries.map((e) => e.path)).toEqual(["docs", "docs/build", "keep.ts", "node_modules", "node_modules/x"]);
    });

    t("encrypted mode leaves no plaintext (content or names) in the bucket, and round-trips with the key only", async () => {
      const { relay, storage } = relayOf(kind);
      const src = fresh("src");
      makeTree(src);
      const key = deriveWorkspaceKey(randomBytes(32), "sess-enc");
      const r = await pushWorkspace(src, relay, "enc", { key });
      expect(r.manifest.encrypted).toBe(true);
      expect(grepTree(storage, MARKER)).toEqual([]);
      expect(grepTree(storage, "notes.md")).toEqual([]);
      const sha = r.manifest.entries.find((e) => e.path === "src/main.ts");
      expect(sha?.kind).toBe("file");
      if (sha?.kind === "file") expect((await relay.list()).some((o) => o.object.includes(sha.sha256))).toBe(false);
      const dst = join(fresh("dst"), "ws");
      await pullWorkspace(relay, "enc", dst, { key });
      expect(snapshot(dst)).toEqual(withoutExcluded(snapshot(src)));
      await expect(pullWorkspace(relay, "enc", join(fresh("dst"), "ws"), { key: deriveWorkspaceKey(randomBytes(32), "sess-enc") })).rejects.toBeInstanceOf(IntegrityError);
      await expect(pullWorkspace(relay, "enc", join(fresh("dst"), "ws"))).rejects.toBeInstanceOf(IntegrityError);
      // the grep does see plaintext when there is some: the same tree pushed in clear
      await pushWorkspace(src, relay, "clear");
      expect(grepTree(storage, MARKER).length).toBeGreaterThan(0);
      chmodSync(join(src, "locked"), 0o755);
      chmodSync(join(dst, "locked"), 0o755);
    });

    t("a push killed midway leaves the previous manifest the latest; pull returns the previous content", async () => {
      const { relay } = relayOf(kind);
      const src = fresh("src");
      for (let i = 0; i < 20; i++) writeFileSync(join(src, `f${i}`), `v1 ${i}`);
      await pushWorkspace(src, relay, "kill");
      const before = snapshot(src);
      for (let i = 0; i < 20; i++) writeFileSync(join(src, `f${i}`), `v2 ${i}`);
      const broken = failingAfter(relay, 5);
      await expect(pushWorkspace(src, broken, "kill", { concurrency: 2, packFileMax: 0 })).rejects.toBeInstanceOf(NetworkError);
      expect(broken.puts.length).toBe(5);
      expect(broken.puts.some((o) => o.includes("manifest"))).toBe(false);
      expect((await relay.list()).filter((o) => o.object.startsWith("kill.manifest-")).map((o) => o.object)).toEqual([manifestName("kill", 1)]);
      const dst = join(fresh("dst"), "ws");
      const p = await pullWorkspace(relay, "kill", dst);
      expect(p.seq).toBe(1);
      expect(snapshot(dst)).toEqual(before);
      // the next push completes, reusing what the killed one uploaded
      const again = await pushWorkspace(src, relay, "kill", { packFileMax: 0 });
      expect(again.seq).toBe(2);
      expect(again.uploaded).toBe(15);
    });

    t("a push killed between packs leaves the previous manifest the latest", async () => {
      const { relay } = relayOf(kind);
      const src = fresh("src");
      for (let i = 0; i < 20; i++) writeFileSync(join(src, `f${i}`), `v1 ${i}`.padEnd(10));
      await pushWorkspace(src, relay, "killp");
      const before = snapshot(src);
      for (let i = 0; i < 20; i++) writeFileSync(join(src, `f${i}`), `v2 ${i}`.padEnd(10));
      const broken = failingAfter(relay, 2);
      await expect(pushWorkspace(src, broken, "killp", { packTarget: 40 })).rejects.toBeInstanceOf(NetworkError);
      expect(broken.puts.length).toBe(2);
      expect(broken.puts.every((o) => o.startsWith("killp.pack-"))).toBe(true);
      const dst = join(fresh("dst"), "ws");
      expect((await pullWorkspace(relay, "killp", dst)).seq).toBe(1);
      expect(snapshot(dst)).toEqual(before);
    });

    t("pull refuses a latest manifest older than minSeq, and a prefix with none", async () => {
      const { relay } = relayOf(kind);
      const src = fresh("src");
      writeFileSync(join(src, "a"), "a");
      await pushWorkspace(src, relay, "stale");
      await expect(pullWorkspace(relay, "stale", join(fresh("dst"), "ws"), { minSeq: 2 })).rejects.toBeInstanceOf(ConflictError);
      await expect(pullWorkspace(relay, "nothing", join(fresh("dst"), "ws"))).rejects.toBeInstanceOf(NotFoundError);
    });

    t("gc keeps the newest manifests and the blobs they reference, deletes the rest", async () => {
      const { relay } = relayOf(kind);
      const src = fresh("src");
      writeFileSync(join(src, "const"), "same in every version");
      for (let v = 1; v <= 5; v++) {
        writeFileSync(join(src, "v"), `version ${v}`);
        await pushWorkspace(src, relay, "gc");
      }
      const r = await gcWorkspace(relay, "gc", 2, { graceMs: 0 });
      expect(r.kept).toEqual([4, 5]);
      expect(r.deletedManifests).toBe(3);
      // v1's pack still holds "const" (referenced by 4 and 5); the packs of v2 and v3 go
      expect(r.deletedBlobs).toBe(2);
      const names = (await relay.list()).map((o) => o.object);
      expect(names.filter((o) => o.startsWith("gc.manifest-"))).toEqual([manifestName("gc", 4), manifestName("gc", 5)]);
      expect(names.filter((o) => o.startsWith("gc.pack-") || o.startsWith("gc.blob-")).length).toBe(3);
      const dst = join(fresh("dst"), "ws");
      await pullWorkspace(relay, "gc", dst);
      expect(readFileSync(join(dst, "v"), "utf8")).toBe("version 5");
    });

    t("checkpointer pushes on demand and stop() waits for the running push", async () => {
      const { relay } = relayOf(kind);
      const src = fresh("src");
      writeFileSync(join(src, "a"), "a");
      const seen: number[] = [];
      const cp = createCheckpointer(src, relay, "cp", { onCheckpoint: (r) => seen.push(r.seq) }, 3_600_000);
      expect((await cp.now()).seq).toBe(1);
      writeFileSync(join(src, "a"), "b");
      const running = cp.now();
      await cp.stop();
      expect(seen).toEqual([1, 2]);
      expect(cp.last?.seq).toBe(2);
      expect((await running).uploaded).toBe(1);
    });
  });
}

describe("hostile manifests are refused and nothing is written outside dir", () => {
  const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
  const base = { format: "devx-workspace/1", seq: 1, created: "2026-01-01T00:00:00Z", scanned: 0, parent: 0, encrypted: false, packs: {}, deleted: [], skipped: [] };

  async function attempt(entries: unknown[], blobs: Array<[string, Buffer]> = [], limits?: { maxFileBytes?: number }, packs: Record<string, Buffer> = {}) {
    const { relay } = relayOf("file");
    for (const [s, body] of blobs) await relay.put(blobName("h", s), bufferStream(body));
    for (const [id, body] of Object.entries(packs)) await relay.put(packName("h", id), bufferStream(body));
    const sizes = Object.fromEntries(Object.entries(packs).map(([id, b]) => [id, b.length]));
    await relay.put(manifestName("h", 1), bufferStream(Buffer.from(JSON.stringify({ ...base, packs: sizes, entries }))));
    const outer = fresh("outer");
    const dst = join(outer, "ws");
    const err = await pullWorkspace(relay, "h", dst, { limits }).then(
      () => undefined,
      (e: unknown) => e,
    );
    // refused: no dst, no staging dir left, nothing beside it; accepted: dst alone
    expect(readdirSync(outer)).toEqual(err === undefined ? ["ws"] : []);
    expect(existsSync(join(root, "escaped"))).toBe(false);
    return err;
  }

  test("a ../ path", async () => {
    const body = Buffer.from("evil");
    expect(await attempt([{ path: "../../escaped", kind: "file", mode: 0o644, size: 4, sha256: sha(body) }], [[sha(body), body]])).toBeInstanceOf(IntegrityError);
    expect(await attempt([{ path: "a/../../escaped", kind: "file", mode: 0o644, size: 4, sha256: sha(body) }], [[sha(body), body]])).toBeInstanceOf(IntegrityError);
  });

  test("an absolute path", async () => {
    const body = Buffer.from("evil");
    expect(await attempt([{ path: join(root, "escaped"), kind: "file", mode: 0o644, size: 4, sha256: sha(body) }], [[sha(body), body]])).toBeInstanceOf(IntegrityError);
  });

  test("a path through a symlink the manifest creates", async () => {
    const body = Buffer.from("evil");
    const err = await attempt(
      [
        { path: "l", kind: "symlink", target: root },
        { path: "l/escaped", kind: "file", mode: 0o644, size: 4, sha256: sha(body) },
      ],
      [[sha(body), body]],
    );
    expect(err).toBeInstanceOf(IntegrityError);
    expect((err as Error).message).toContain("symlink");
  });

  test("a huge size", async () => {
    expect(await attempt([{ path: "big", kind: "file", mode: 0o644, size: 2 ** 52, sha256: sha("x") }])).toBeInstanceOf(IntegrityError);
    const body = Buffer.alloc(2048);
    expect(await attempt([{ path: "big", kind: "file", mode: 0o644, size: 2048, sha256: sha(body) }], [[sha(body), body]], { maxFileBytes: 1024 })).toBeInstanceOf(IntegrityError);
  });

  test("a blob whose content does not match its hash, or is longer than the manifest says", async () => {
    const claimed = Buffer.from("good");
    expect(await attempt([{ path: "f", kind: "file", mode: 0o644, size: 4, sha256: sha(claimed) }], [[sha(claimed), Buffer.from("evil")]])).toBeInstanceOf(IntegrityError);
    expect(await attempt([{ path: "f", kind: "file", mode: 0o644, size: 4, sha256: sha(claimed) }], [[sha(claimed), Buffer.from("good and then some")]])).toBeInstanceOf(IntegrityError);
  });

  test("pack entries outside their pack, in an unknown pack, or whose bytes do not match", async () => {
    const id = "0".repeat(32);
    const pack = Buffer.from("aaaabbbb");
    const f = (over: object) => ({ path: "f", kind: "file", mode: 0o644, size: 4, sha256: sha("bbbb"), pack: id, offset: 4, ...over });
    expect(await attempt([f({ offset: 6 })], [], undefined, { [id]: pack })).toBeInstanceOf(IntegrityError);
    expect(await attempt([f({ pack: "1".repeat(32) })], [], undefined, { [id]: pack })).toBeInstanceOf(IntegrityError);
    expect(await attempt([f({ pack: "constructor" })], [], undefined, { [id]: pack })).toBeInstanceOf(IntegrityError);
    expect(await attempt([f({ offset: 0 })], [], undefined, { [id]: pack })).toBeInstanceOf(IntegrityError);
    // and the same entry, right, is accepted (so the refusals above are for the reasons named)
    expect(await attempt([f({})], [], undefined, { [id]: pack })).toBeUndefined();
  });

  test("unknown entry kinds, duplicates, missing parents, bad modes and a seq that is not the object's", async () => {
    expect(await attempt([{ path: "dev", kind: "chardev", major: 1, minor: 3 }])).toBeInstanceOf(IntegrityError);
    expect(await attempt([{ path: "d", kind: "dir", mode: 0o755 }, { path: "d", kind: "dir", mode: 0o755 }])).toBeInstanceOf(IntegrityError);
    expect(await attempt([{ path: "nodir/f", kind: "symlink", target: "x" }])).toBeInstanceOf(IntegrityError);
    expect(await attempt([{ path: "d", kind: "dir", mode: -1 }])).toBeInstanceOf(IntegrityError);
    expect(await attempt([{ path: "", kind: "dir", mode: 0o755 }])).toBeInstanceOf(IntegrityError);
    const { relay } = relayOf("file");
    await relay.put(manifestName("h", 2), bufferStream(Buffer.from(JSON.stringify({ ...base, seq: 7, entries: [] }))));
    await expect(pullWorkspace(relay, "h", join(fresh("dst"), "ws"))).rejects.toBeInstanceOf(IntegrityError);
  });

  test("setuid bits are dropped and a valid hostile-looking manifest stays inside dir", async () => {
    const { relay } = relayOf("file");
    const body = Buffer.from("#!/bin/sh\n");
    await relay.put(blobName("h", sha(body)), bufferStream(body));
    await relay.put(manifestName("h", 1), bufferStream(Buffer.from(JSON.stringify({ ...base, entries: [{ path: "s", kind: "file", mode: 0o4755, size: body.length, sha256: sha(body) }, { path: "up", kind: "symlink", target: "../../escaped" }] }))));
    const dst = join(fresh("dst"), "ws");
    await pullWorkspace(relay, "h", dst);
    expect(lstatSync(join(dst, "s")).mode & 0o7777).toBe(0o755);
    expect(readlinkSync(join(dst, "up"))).toBe("../../escaped");
    expect(existsSync(join(root, "escaped"))).toBe(false);
  });

  test("encrypted: a flipped byte in a pack, or a manifest replayed under a newer seq, fails authentication", async () => {
    const { relay, storage } = relayOf("file");
    const src = fresh("src");
    writeFileSync(join(src, "a"), "secret a");
    const key = deriveWorkspaceKey(randomBytes(32), "tamper");
    await pushWorkspace(src, relay, "t", { key });
    const pack = readdirSync(storage).find((n) => n.startsWith("t.pack-"))!;
    const bytes = readFileSync(join(storage, pack));
    bytes[bytes.length - 20]! ^= 1;
    writeFileSync(join(storage, pack), bytes);
    const outer = fresh("outer");
    await expect(pullWorkspace(relay, "t", join(outer, "ws"), { key })).rejects.toBeInstanceOf(IntegrityError);
    expect(readdirSync(outer)).toEqual([]);
    // manifest 1, copied to the name of manifest 2: its associated data (the name) no longer matches
    writeFileSync(join(storage, manifestName("t", 2)), readFileSync(join(storage, manifestName("t", 1))));
    await expect(pullWorkspace(relay, "t", join(outer, "ws"), { key })).rejects.toBeInstanceOf(IntegrityError);
    expect(readdirSync(outer)).toEqual([]);
  });

  test("exclude patterns: ** crosses directories, a leading / anchors, negation is refused", async () => {
    const { compileExcludes } = await import("../../../src/core/session/workspace/walk.ts");
    const ex = compileExcludes(["**/tmp/*.txt", "/root-only", "*.o", "cache/"]);
    expect(ex("a/b/tmp/x.txt", false)).toBe(true);
    expect(ex("tmp/x.txt", false)).toBe(true);
    expect(ex("tmp/sub/x.txt", false)).toBe(false);
    expect(ex("root-only", false)).toBe(true);
    expect(ex("sub/root-only", false)).toBe(false);
    expect(ex("deep/x.o", false)).toBe(true);
    expect(ex("x.oo", false)).toBe(false);
    expect(ex("a/cache", true)).toBe(true);
    expect(ex("a/cache", false)).toBe(false);
    expect(() => compileExcludes(["!keep"])).toThrow(UsageError);
  });

  test("pushing a directory that does not exist is a NotFoundError", async () => {
    const { relay } = relayOf("file");
    await expect(pushWorkspace(join(root, "no-such-dir"), relay, "nx")).rejects.toBeInstanceOf(NotFoundError);
    await expect(pushWorkspace(root, relay, "bad/prefix")).rejects.toBeInstanceOf(UsageError);
  });

  test("pull into a non-empty directory is refused", async () => {
    const { relay } = relayOf("file");
    const src = fresh("src");
    writeFileSync(join(src, "a"), "a");
    await pushWorkspace(src, relay, "ne");
    const dst = fresh("dst");
    writeFileSync(join(dst, "existing"), "x");
    await expect(pullWorkspace(relay, "ne", dst)).rejects.toBeInstanceOf(ConflictError);
  });
});
