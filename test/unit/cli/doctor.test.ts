import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { runCli } from "../../../src/cli/run.ts";
import { memoryIO } from "../../../src/cli/io.ts";
import { writeSession, listSessions } from "../../../src/platform/sessions.ts";
import { resolvePaths } from "../../../src/platform/paths.ts";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Exec } from "../../../src/platform/exec.ts";

// Doctor's checks go through exec; a stub answers "not installed" for every tool so the test is
// about session files and output shape, not about this machine.
const noTools: Exec = {
  which: () => null,
  run: async (argv) => ({ argv, code: 127, stdout: "", stderr: "not found", timedOut: false }),
  spawn: () => {
    throw new Error("doctor must not spawn");
  },
};

test("doctor --fix removes session files whose owner died, and keeps live ones", async () => {
  const paths = resolvePaths({ DEVX_HOME: mkdtempSync(join(tmpdir(), "devx-doctor-")) });
  const dead = Bun.spawn(["true"]);
  await dead.exited;
  const stale = await writeSession(paths.state, "intercept", "old", { service: "api" }, dead.pid);
  await writeSession(paths.state, "intercept", "live", { service: "web" });
  const before = await listSessions(paths.state);
  expect(before.filter((s) => s.stale).map((s) => s.id)).toEqual(["old"]);

  const io = memoryIO();
  expect(await runCli(["doctor", "--json"], { io, exec: noTools, paths })).toBe(0);
  const report = JSON.parse(io.stdout());
  expect(report.checks.find((c: { id: string }) => c.id === "sessions")).toMatchObject({ status: "warn", fix: "run `devx doctor --fix` to remove them" });
  expect(report.checks.find((c: { id: string }) => c.id === "podman")).toMatchObject({ status: "missing" });

  const fixIo = memoryIO();
  expect(await runCli(["doctor", "--fix"], { io: fixIo, exec: noTools, paths })).toBe(0);
  expect(fixIo.stdout()).toContain("removed 1 stale session file: intercept/old");
  expect((await listSessions(paths.state)).map((s) => s.id)).toEqual(["live"]);
  expect(existsSync(stale.id)).toBe(false);
});
