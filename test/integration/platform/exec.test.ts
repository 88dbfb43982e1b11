import { expect, test } from "bun:test";
import { systemExec, execCheck } from "../../../src/platform/exec.ts";
import { ProviderError } from "../../../src/errors.ts";
import { pidAlive } from "../../../src/platform/atomic.ts";

test("captures stdout/stderr/exit code; stdin carries data that must not be in argv", async () => {
  const r = await systemExec.run(["sh", "-c", 'read s; echo "got:$s"; echo err >&2; exit 3'], { input: "hunter2\n" });
  expect(r).toMatchObject({ code: 3, stdout: "got:hunter2\n", stderr: "err\n", timedOut: false });
});

test("env is merged over the parent's; undefined removes a variable", async () => {
  process.env.DEVX_EXEC_TEST = "parent";
  const r = await systemExec.run(["sh", "-c", 'echo "${DEVX_EXEC_TEST:-unset} $EXTRA"'], { env: { DEVX_EXEC_TEST: undefined, EXTRA: "x" } });
  expect(r.stdout).toBe("unset x\n");
});

test("a timeout kills the whole process group, grandchildren included", async () => {
  const r = await systemExec.run(["sh", "-c", "sleep 30 & echo $!; wait"], { timeoutMs: 300 });
  expect(r.timedOut).toBe(true);
  const grandchild = Number(r.stdout.trim());
  // the group was signalled: poll (with a deadline) until the kernel has reaped it
  const deadline = Date.now() + 5000;
  while (pidAlive(grandchild) && Date.now() < deadline) await Bun.sleep(10);
  expect(pidAlive(grandchild)).toBe(false);
});

test("an abort signal stops the command", async () => {
  const ac = new AbortController();
  const p = systemExec.run(["sleep", "30"], { signal: ac.signal });
  setTimeout(() => ac.abort(), 100);
  const r = await p;
  expect(r.code).not.toBe(0);
});

test("a missing binary is a ProviderError with an install hint", async () => {
  const e = await systemExec.run(["devx-no-such-tool-xyz"]).catch((x) => x);
  expect(e).toBeInstanceOf(ProviderError);
  expect(e.message).toBe("devx-no-such-tool-xyz is not installed or not on PATH");
});

test("execCheck turns a failure into a ProviderError with stderr's tail", async () => {
  const e = await execCheck(systemExec, ["sh", "-c", "echo boom >&2; exit 4"]).catch((x) => x);
  expect(e).toBeInstanceOf(ProviderError);
  expect(e.message).toContain("(exit 4): boom");
});

test("spawn streams and kill() reaches the group", async () => {
  const p = systemExec.spawn(["sh", "-c", "echo ready; sleep 30 & wait"]);
  const reader = p.stdout.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  expect(first).toBe("ready\n");
  p.kill("SIGKILL");
  expect(await p.exited).not.toBe(0);
});

/** The environment of a live child, as the kernel has it (once it runs its own program, not our fork). */
async function environOf(pid: number, program: string): Promise<Record<string, string>> {
  const fs = await import("node:fs");
  const deadline = Date.now() + 5000;
  while (!fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(program)) {
    if (Date.now() > deadline) throw new Error(`${pid} never ran ${program}`);
    await Bun.sleep(5);
  }
  const raw = fs.readFileSync(`/proc/${pid}/environ`, "utf8");
  return Object.fromEntries(raw.split("\0").filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
}

test("helper children inherit no credentials (read from /proc/<pid>/environ); the user's own commands and devx itself keep them", async () => {
  const creds = { AWS_SECRET_ACCESS_KEY: "aws-s3cret", GOOGLE_APPLICATION_CREDENTIALS: "/k.json", CLOUDFLARE_API_TOKEN: "cf", TS_AUTHKEY: "tskey", DEVX_SHARE_ID: "share", GITHUB_TOKEN: "gh", DEVX_EXEC_PLAIN: "kept" };
  Object.assign(process.env, creds);
  const live: Array<{ kill(s?: NodeJS.Signals | number): void }> = [];
  try {
    const helper = systemExec.spawn(["sleep", "30"], { env: { EXPLICIT_TOKEN: "passed-by-name" } });
    const user = systemExec.spawn(["sleep", "30"], { userEnv: true });
    // a process whose argv[0] is this executable: devx re-executing itself (here: bun)
    const self = systemExec.spawn([process.execPath, "-e", "setTimeout(() => {}, 30000)"]);
    live.push(helper, user, self);
    const h = await environOf(helper.pid, "sleep");
    for (const k of Object.keys(creds).filter((k) => k !== "DEVX_EXEC_PLAIN")) expect(h[k]).toBeUndefined();
    expect(h.DEVX_EXEC_PLAIN).toBe("kept");
    expect(h.EXPLICIT_TOKEN).toBe("passed-by-name");
    expect(h.PATH).toBe(process.env.PATH!);
    expect(await environOf(user.pid, "sleep")).toMatchObject(creds);
    expect(await environOf(self.pid, "setTimeout")).toMatchObject(creds);
    const r = await systemExec.run(["sh", "-c", "tr '\\0' '\\n' < /proc/$$/environ"]);
    expect(r.stdout).not.toContain("aws-s3cret");
    expect(r.stdout).toContain("DEVX_EXEC_PLAIN=kept");
  } finally {
    for (const p of live) p.kill("SIGKILL");
    for (const k of Object.keys(creds)) delete process.env[k];
  }
});
