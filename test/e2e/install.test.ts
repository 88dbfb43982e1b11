import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, existsSync, readdirSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ROOT } from "../support/binary.ts";

// Builds a real release folder, serves it from 127.0.0.1 and runs install.sh against it.
const work = mkdtempSync(join(tmpdir(), "devx-install-"));
const releaseDir = join(work, "release");
let server: ReturnType<typeof Bun.serve>;
let corrupt = false;
let version = "";

beforeAll(async () => {
  const r = Bun.spawnSync(["bun", "scripts/release.ts", "--out", releaseDir], { cwd: ROOT, stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  version = JSON.parse(readFileSync(resolve(ROOT, "package.json"), "utf8")).version;
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      const file = Bun.file(join(releaseDir, path));
      if (!path.includes("..") && (await file.exists())) {
        if (corrupt && /devx-(linux|darwin)-/.test(path)) {
          const bytes = new Uint8Array(await file.arrayBuffer());
          bytes[bytes.length - 100]! ^= 0xff;
          return new Response(bytes);
        }
        return new Response(file);
      }
      return new Response("not found", { status: 404 });
    },
  });
}, 60_000);

afterAll(() => {
  server?.stop(true);
  rmSync(work, { recursive: true, force: true });
});

// Async: the release server runs in this process, so a blocking spawn would deadlock it.
async function install(args: string[], home: string) {
  const p = Bun.spawn(["bash", resolve(ROOT, "install.sh"), ...args], {
    env: { PATH: "/usr/bin:/bin", HOME: home, DEVX_INSTALL_BASE_URL: `http://127.0.0.1:${server.port}` },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

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

  test("shellcheck passes", () => {
    if (!Bun.which("shellcheck")) throw new Error("shellcheck is not installed (apt-get install shellcheck)");
    const r = Bun.spawnSync(["shellcheck", resolve(ROOT, "install.sh")], { stdout: "pipe" });
    expect(r.stdout.toString()).toBe("");
    expect(r.exitCode).toBe(0);
  });
});
