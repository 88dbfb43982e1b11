import { expect, test } from "bun:test";
import { Readable } from "node:stream";
import { contentDigester } from "../../../src/core/state/digest.ts";
import { CONTAINER_DEVICES, TarGuard } from "../../../src/core/state/guard/tar-rules.ts";
import { IntegrityError } from "../../../src/errors.ts";
import { craftTar, type CraftEntry } from "../../support/bundle-craft.ts";

/**
 * Each hostile shape a volume tar (or a checkpoint's inner tar) can take, streamed through the
 * guard as attach does: refused with a typed integrity error naming the entry. Real volume
 * exports (what podman writes) pass.
 */
async function check(entries: CraftEntry[], opts: { symlinkInBase?: (p: string) => boolean; maxEntries?: number } = {}): Promise<TarGuard> {
  const guard = new TarGuard({ what: "volume v", maxEntries: opts.maxEntries ?? 1000, maxBytes: 1 << 20, symlinkInBase: opts.symlinkInBase });
  const d = contentDigester(guard);
  for await (const c of Readable.from([craftTar(entries)])) await d.write(c as Buffer);
  await d.finish();
  return guard;
}

async function refused(entries: CraftEntry[], re: RegExp, opts?: Parameters<typeof check>[1]): Promise<void> {
  const err = await check(entries, opts).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(IntegrityError);
  expect((err as Error).message).toMatch(re);
}

test("an ordinary volume passes: files, directories, inner symlinks, absolute symlinks, hard links, FIFOs", async () => {
  const g = await check([
    { path: "pg/", type: "Directory", mode: 0o700 },
    { path: "pg/base/1", body: "data" },
    { path: "pg/current", type: "SymbolicLink", linkpath: "base/1" },
    { path: "etc-link", type: "SymbolicLink", linkpath: "/etc/timezone" },
    { path: "up", type: "SymbolicLink", linkpath: "pg/../pg/base" },
    { path: "pg/base/1.hard", type: "Link", linkpath: "pg/base/1" },
    { path: "ctl", type: "FIFO" },
    { path: "./", type: "Directory" },
  ]);
  expect(g.entries).toBe(8);
  expect(g.setuidCount).toBe(0);
});

test("a file written through a symlink the archive made is refused (the host-write trick)", async () => {
  await refused([{ path: "d", type: "SymbolicLink", linkpath: "/some/host/dir" }, { path: "d/x", body: "pwned" }], /passes through the symbolic link 'd'/);
  // deeper, and with a directory entry through it
  await refused([{ path: "a/", type: "Directory" }, { path: "a/l", type: "SymbolicLink", linkpath: "/" }, { path: "a/l/etc/", type: "Directory" }], /passes through the symbolic link 'a\/l'/);
});

test("absolute paths, '..' and NUL bytes are refused", async () => {
  await refused([{ path: "/etc/cron.d/x", body: "x" }], /absolute path/);
  await refused([{ path: "a/../../x", body: "x" }], /climbs out/);
  await refused([{ path: "../x", body: "x" }], /climbs out/);
});

test("hard links may only name a regular file the archive already holds", async () => {
  await refused([{ path: "h", type: "Link", linkpath: "/etc/shadow" }], /absolute path/);
  await refused([{ path: "h", type: "Link", linkpath: "missing" }], /does not name a regular file earlier/);
  // through a symlink the archive made: link() would resolve it on the host
  await refused([{ path: "d", type: "SymbolicLink", linkpath: "/etc" }, { path: "h", type: "Link", linkpath: "d/shadow" }], /does not name a regular file earlier/);
  await refused([{ path: "d", type: "Directory" }, { path: "h", type: "Link", linkpath: "d" }], /does not name a regular file earlier/);
});

test("devices are refused; a relative symlink above the root is refused", async () => {
  await refused([{ path: "sda", type: "BlockDevice" }], /device node/);
  await refused([{ path: "mem", type: "CharacterDevice" }], /device node/);
  await refused([{ path: "a/up", type: "SymbolicLink", linkpath: "../../etc" }], /points above the archive root/);
});

test("an entry twice, an entry below a file, too many entries", async () => {
  await refused([{ path: "f", body: "1" }, { path: "f", type: "SymbolicLink", linkpath: "/etc" }], /appears twice/);
  await refused([{ path: "f", body: "1" }, { path: "f/x", body: "2" }], /below the file 'f'/);
  await refused([{ path: "a" }, { path: "b" }, { path: "c" }], /more than 2 entries/, { maxEntries: 2 });
});

test("setuid/setgid files are listed (the plan decides); setgid directories are ordinary", async () => {
  const g = await check([{ path: "bin/", type: "Directory", mode: 0o2775 }, { path: "bin/su", body: "elf", mode: 0o4755 }, { path: "bin/wall", body: "elf", mode: 0o2755 }]);
  expect(g.setuid).toEqual(["bin/su", "bin/wall"]);
  expect(g.setuidCount).toBe(2);
});

test("over an existing tree (an image), a parent that is a symlink there is refused", async () => {
  const inImage = new Set(["var/run"]);
  await refused([{ path: "var/run/x", body: "x" }], /symbolic link in the image/, { symlinkInBase: (p) => inImage.has(p) });
  // the same path made a directory by the archive itself first is fine
  await check([{ path: "var/", type: "Directory" }, { path: "var/lib/x", body: "x" }], { symlinkInBase: (p) => inImage.has(p) });
});

test("a container's own /dev nodes pass only where allowed (CRIU's tmpfs dump of /dev), any other device never", async () => {
  const dev = (min: number): CraftEntry => ({ path: `./n${min}`, type: "CharacterDevice" });
  const guard = new TarGuard({ what: "tmpfs", maxEntries: 10, maxBytes: 1 << 20, devices: CONTAINER_DEVICES });
  guard.check({ path: "./urandom", type: "CharacterDevice", devmaj: 1, devmin: 9 });
  guard.check({ path: "./zero", type: "CharacterDevice" });
  expect(() => guard.check({ path: "./kmem", type: "CharacterDevice", devmaj: 1, devmin: 2 })).toThrow(/device node/);
  // a standard name with another device's numbers
  expect(() => guard.check({ path: "./null", type: "CharacterDevice", devmaj: 1, devmin: 1 })).toThrow(/device node/);
  expect(() => guard.check({ path: "./sub/tty", type: "CharacterDevice", devmaj: 5, devmin: 0 })).toThrow(/device node/);
  expect(() => guard.check({ path: "./sda", type: "BlockDevice", devmaj: 8, devmin: 0 })).toThrow(/device node/);
  await refused([dev(3)], /device node/);
});
