import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, existsSync, readdirSync, writeFileSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ROOT } from "../support/binary.ts";

// Builds a real release folder, serves it from 127.0.0.1 and runs install.sh against it.
const work = mkdtempSync(join(tmpdir(), "devx-install-"));
const releaseDir = join(work, "release");
let releaseLog = "";
let server: ReturnType<typeof Bun.serve>;
let corrupt = false;
let version = "";

beforeAll(async () => {
  // --out relative to where release.ts is run, not to the repository
  const r = Bun.spawnSync(["bun", join(ROOT, "scripts/release.ts"), "--out", "release"], { cwd: work, stderr: "pipe" });
  releaseLog = r.stderr.toString();
  if (r.exitCode !== 0) throw new Error(releaseLog);
  version = JSON.parse(readFileSync(resolve(ROOT, "package.json"), "utf8")).version;
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      const file = Bun.file(join(releaseDir, path));
      if (!path.includes("..") && (await file.exists())) {
        if (corrupt && /devx-(linux|darwin)-.*\.tar\.gz$/.test(path)) {
          const bytes = new Uint8Array(await file.arrayBuffer());
          bytes[bytes.length - 100]! ^= 0xff;
          return new Response(bytes);
        }
        return new Response(file);
      }
      return new Response("not found", { status: 404 });
    },
  });
}, 180_000);

afterAll(() => {
  server?.stop(true);
  rmSync(work, { recursive: true, force: true });
});

// Async: the release server runs in this process, so a blocking spawn would deadlock it.
async function install(args: string[], home: string, o: { terminal?: boolean } = {}) {
  const cmd = ["bash", resolve(ROOT, "install.sh"), ...args];
  // `script` gives the installer a terminal (stdin, stdout and stderr), as curl | bash in a shell has on stderr
  const argv = o.terminal ? ["script", "-qec", cmd.map((a) => `'${a}'`).join(" "), "/dev/null"] : cmd;
  const p = Bun.spawn(argv, {
    env: { PATH: "/usr/bin:/bin", HOME: home, DEVX_INSTALL_BASE_URL: `http://127.0.0.1:${server.port}` },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

describe("release.ts", () => {
  test("publishes compressed archives with checksums, into --out taken from the caller's directory", () => {
    const host = `${process.platform}-${process.arch === "arm64" ? "arm64" : "x64"}`;
    expect(readdirSync(join(releaseDir, `v${version}`)).sort()).toEqual(["checksums.txt", `devx-${host}.tar.gz`, "install.sh"]);
    expect(existsSync(join(ROOT, "release", `v${version}`, `devx-${host}.tar.gz`)) && statSync(join(ROOT, "release", `v${version}`, `devx-${host}.tar.gz`)).mtimeMs > Date.now() - 600_000).toBe(false);
    const sums = readFileSync(join(releaseDir, "latest", "checksums.txt"), "utf8");
    expect(sums).toMatch(new RegExp(`^[0-9a-f]{64}  devx-${host}\\.tar\\.gz$`, "m"));
    // the archive holds one file, devx, executable, and is much smaller than it
    const list = Bun.spawnSync(["tar", "-tvzf", join(releaseDir, "latest", `devx-${host}.tar.gz`)], { stdout: "pipe" }).stdout.toString().trim().split("\n");
    expect(list).toHaveLength(1);
    expect(list[0]).toMatch(/^-rwxr-xr-x .* devx$/);
    const m = /binary ([\d.]+) MiB, archive ([\d.]+) MiB/.exec(releaseLog);
    expect(m).not.toBeNull();
    expect(Number(m![2]) / Number(m![1])).toBeLessThan(0.6);
  });
});

describe("install.sh", () => {
  test("installs the latest release into ~/.local/bin and prints the PATH line without editing rc files", async () => {
    const home = mkdtempSync(join(work, "home-"));
    writeFileSync(join(home, ".bashrc"), "# mine\n");
    const r = await install([], home);
    expect(r.code).toBe(0);
    const bin = join(home, ".local/bin/devx");
    expect(Bun.spawnSync([bin, "--version"]).stdout.toString()).toBe(`devx ${version}\n`);
    expect(r.out).toBe(`  export PATH="${join(home, ".local/bin")}:$PATH"\n`);
    expect(readFileSync(join(home, ".bashrc"), "utf8")).toBe("# mine\n");
  });

  test("pins a version and honours --dir; --modify-path edits rc files only when asked", async () => {
    const home = mkdtempSync(join(work, "home-"));
    writeFileSync(join(home, ".bashrc"), "");
    const dir = join(home, "tools");
    const r = await install(["--version", version, "--dir", dir, "--modify-path"], home);
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, "devx"))).toBe(true);
    expect(readFileSync(join(home, ".bashrc"), "utf8")).toContain(`export PATH="${dir}:$PATH"`);
  });

  test("an unknown version fails clearly", async () => {
    const home = mkdtempSync(join(work, "home-"));
    const r = await install(["--version", "9.9.9"], home);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain("cannot download");
    expect(existsSync(join(home, ".local/bin/devx"))).toBe(false);
  });

  test("a corrupted binary is refused and nothing is installed", async () => {
    const home = mkdtempSync(join(work, "home-"));
    corrupt = true;
    try {
      const r = await install([], home);
      expect(r.code).not.toBe(0);
      expect(r.err).toContain("checksum mismatch");
      expect(existsSync(join(home, ".local/bin")) ? readdirSync(join(home, ".local/bin")) : []).toEqual([]);
    } finally {
      corrupt = false;
    }
  });

  test("--dir or --version without a value: one clear line, not a bash error, nothing installed", async () => {
    const home = mkdtempSync(join(work, "home-"));
    for (const args of [["--dir"], ["--dir", "--modify-path"], ["--version"]]) {
      const r = await install(args, home);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/^devx-install: error: --(dir|version) needs a (directory|value)\n  hint: e\.g\. /);
      expect(r.err).not.toContain("parameter null or not set");
    }
    expect(existsSync(join(home, ".local"))).toBe(false);
  });

  test("on a terminal the download shows a progress bar; without one it is quiet", async () => {
    const home = mkdtempSync(join(work, "home-"));
    const r = await install(["--dir", join(home, "bin")], home, { terminal: true });
    expect(r.code).toBe(0);
    expect(r.out).toContain("100.0%");
    const quiet = await install(["--dir", join(home, "bin2")], home);
    expect(quiet.code).toBe(0);
    expect(quiet.err).not.toContain("%");
  }, 60_000);

  test("shellcheck passes", () => {
    if (!Bun.which("shellcheck")) throw new Error("shellcheck is not installed (apt-get install shellcheck)");
    const r = Bun.spawnSync(["shellcheck", resolve(ROOT, "install.sh")], { stdout: "pipe" });
    expect(r.stdout.toString()).toBe("");
    expect(r.exitCode).toBe(0);
  });
});
