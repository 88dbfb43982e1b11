import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ensureBinary } from "../../support/binary.ts";
import { podmanAvailable } from "../../support/images.ts";
import { sessionImage, startServe } from "../../support/session-serve.ts";

/**
 * Workspaces in the team's bucket, through the compiled binary on real podman: a file written in a
 * session survives stop → start because it went to the bucket (the volume is gone in between),
 * nothing readable is left in the bucket (encrypted), and a push that cannot land keeps the sandbox
 * (persist-failed) until the control plane's retry succeeds — no file lost. While a session runs,
 * checkpoints reach the bucket on their own.
 */
const withPodman = podmanAvailable();
const required = (part: string) => (process.env.DEVX_TEST_REQUIRE ?? "").split(",").includes(part);
const run = `${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const S = `bk-${run}`;
const home = mkdtempSync(join(tmpdir(), "devx-bucket-"));
const relayDir = join(home, "bucket");
const keyFile = join(home, "workspace.key");
const MARKER = `plaintext-marker-${run}`;
let bin = "";
let base = "";
let token = "";
let serve: import("bun").Subprocess<"ignore", "pipe", "pipe"> | undefined;
const log: string[] = [];

const env = () => {
  const e: Record<string, string> = {};
  for (const [k, val] of Object.entries(process.env)) if (val !== undefined && !k.startsWith("DEVX_SESSION_")) e[k] = val;
  return { ...e, DEVX_HOME: home, NO_COLOR: "1" };
};
async function devx(args: string[], withToken = true): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([bin, ...args], { env: { ...env(), DEVX_SESSION_SERVER: base, ...(withToken ? { DEVX_SESSION_TOKEN: token } : {}) }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}
const podman = (args: string[]) => Bun.spawnSync(["podman", ...args], { stdout: "pipe", stderr: "pipe" });
const volumeExists = () => podman(["volume", "exists", `devx-session-${S}`]).exitCode === 0;
const containerExists = () => podman(["container", "exists", `devx-session-${S}`]).exitCode === 0;
async function state(): Promise<string> {
  const r = await devx(["session", "ls", "--json"]);
  const list = JSON.parse(r.out) as Array<{ id: string; state: string }> | { sessions: Array<{ id: string; state: string }> };
  const all = Array.isArray(list) ? list : list.sessions;
  return all.find((s) => s.id === S)?.state ?? "(none)";
}
async function until(what: string, ok: () => Promise<boolean> | boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; serve said:\n${log.join("")}`);
    await Bun.sleep(200);
  }
}
/** every byte stored in the bucket, concatenated */
const bucketBytes = () => Buffer.concat(readdirSync(relayDir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => readFileSync(join(e.parentPath, e.name))));

beforeAll(async () => {
  if (!withPodman) {
    if (required("podman")) throw new Error("podman is required (DEVX_TEST_REQUIRE) but not available");
    return;
  }
  bin = ensureBinary();
  const image = await sessionImage(bin);
  mkdirSync(relayDir);
  writeFileSync(keyFile, Buffer.alloc(32, 7), { mode: 0o600 });
  const t = Bun.spawnSync([bin, "session", "token", "create", "--owner", "alice", "--json"], { env: env(), stdout: "pipe", stderr: "pipe" });
  if (t.exitCode !== 0) throw new Error(t.stderr.toString());
  token = (JSON.parse(t.stdout.toString()) as { token: string }).token;
  const started = await startServe(bin, ["--image", image, "--relay", pathToFileURL(relayDir).href, "--workspace-key-file", keyFile, "--watch-interval", "500ms", "--checkpoint-interval", "1s"], env(), log);
  serve = started.proc;
  base = started.url;
}, 600_000);

afterAll(async () => {
  if (serve && serve.exitCode === null) {
    serve.kill("SIGTERM");
    await serve.exited;
  }
  if (withPodman) {
    podman(["rm", "-f", "-t", "0", `devx-session-${S}`]);
    podman(["volume", "rm", "-f", `devx-session-${S}`]);
  }
  rmSync(home, { recursive: true, force: true });
});

describe.skipIf(!withPodman)("workspaces in the bucket (--relay, encrypted)", () => {
  test("stop pushes and removes the volume, start pulls it back; the bucket holds no plaintext", async () => {
    expect((await devx(["session", "create", "--name", S, "--json"])).code).toBe(0);
    const w = await devx(["session", "exec", S, "--", "sh", "-c", `mkdir -p src && echo ${MARKER} > src/note.txt && head -c 300000 /dev/urandom > blob.bin && sha256sum blob.bin > blob.sum && ln -s src/note.txt link`]);
    expect(w.err + `exit ${w.code}`).toEndWith("exit 0");
    // while it runs, checkpoints reach the bucket: pulled here with the session's key, the file is there
    const { openRelay } = await import("../../../providers/relay/index.ts");
    const { deriveWorkspaceKey, pullWorkspace } = await import("../../../src/core/session/workspace/index.ts");
    const relay = openRelay(pathToFileURL(relayDir).href, { env: {}, exec: (await import("../../../src/platform/exec.ts")).systemExec });
    const copy = join(home, "checkpoint-copy");
    await until("a checkpoint holding the file", async () => {
      rmSync(copy, { recursive: true, force: true });
      const ok = await pullWorkspace(relay, `sessions-${S}`, copy, { key: deriveWorkspaceKey(readFileSync(keyFile), `sessions-${S}`) }).then(() => existsSync(join(copy, "src/note.txt")), () => false);
      return ok;
    });
    expect(readFileSync(join(copy, "src/note.txt"), "utf8")).toBe(`${MARKER}\n`);
    expect(await state()).toBe("running");
    expect((await devx(["session", "stop", S])).code).toBe(0);
    expect(await state()).toBe("stopped");
    // the sandbox and its volume are gone: the bucket is the only copy now
    expect(containerExists()).toBe(false);
    expect(volumeExists()).toBe(false);
    expect(readdirSync(relayDir).some((f) => f.startsWith(`sessions-${S}.manifest-`))).toBe(true);
    expect(bucketBytes().includes(Buffer.from(MARKER))).toBe(false);
    expect(bucketBytes().includes(Buffer.from("note.txt"))).toBe(false);

    expect((await devx(["session", "start", S])).code).toBe(0);
    const r = await devx(["session", "exec", S, "--", "sh", "-c", "cat src/note.txt && sha256sum -c blob.sum && readlink link && touch writable && echo ok"]);
    expect(r.err + `exit ${r.code}`).toEndWith("exit 0");
    expect(r.out).toBe(`${MARKER}\nblob.bin: OK\nsrc/note.txt\nok\n`);
  }, 240_000);

  test("a push that cannot land keeps the sandbox as persist-failed; the retry saves it and nothing is lost", async () => {
    expect((await devx(["session", "exec", S, "--", "sh", "-c", "echo second > src/second.txt"])).code).toBe(0);
    // the bucket becomes unwritable: a file where its directory was
    const aside = `${relayDir}.aside`;
    renameSync(relayDir, aside);
    writeFileSync(relayDir, "not a directory");
    try {
      const stop = await devx(["session", "stop", S]);
      expect(stop.code).toBe(7);
      expect(stop.err).toContain("could not be stopped");
      await until("persist-failed", async () => (await state()) === "persist-failed");
      // the sandbox and the workspace are kept while the push cannot land
      expect(containerExists()).toBe(true);
      expect(volumeExists()).toBe(true);
    } finally {
      rmSync(relayDir, { force: true });
      renameSync(aside, relayDir);
    }
    // the control plane retries on its own
    await until("stopped after the retry", async () => (await state()) === "stopped");
    expect(volumeExists()).toBe(false);
    expect((await devx(["session", "start", S])).code).toBe(0);
    const r = await devx(["session", "exec", S, "--", "cat", "src/second.txt", "src/note.txt"]);
    expect(r.out).toBe(`second\n${MARKER}\n`);
    expect((await devx(["session", "rm", "-y", S])).code).toBe(0);
    // delete removes the session's objects from the bucket too
    expect(readdirSync(relayDir).filter((f) => f.startsWith(`sessions-${S}.`))).toEqual([]);
    expect(existsSync(relayDir)).toBe(true);
  }, 240_000);
});
