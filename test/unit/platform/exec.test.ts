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
  await Bun.sleep(50);
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
