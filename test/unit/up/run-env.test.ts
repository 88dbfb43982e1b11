import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../../src/cli/main.ts";
import { memoryIO } from "../../../src/cli/io.ts";
import { ExecStub } from "../../support/exec-stub.ts";

const dir = mkdtempSync(join(tmpdir(), "devx-run-env-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("devx run injects the top-level env: that up gives every service; --dry-run prints it (secrets masked) and runs nothing", async () => {
  writeFileSync(join(dir, "devx.yaml"), "name: runenv\nenv:\n  GREETING: hello\n  RETRIES: 3\n  API_TOKEN: t0ps3cret\nservices:\n  - name: api\n    command: x\n");
  // no container runtime here: the database source contributes nothing, the command is never run
  const exec = new ExecStub([]);
  const io = memoryIO();
  expect(await main(["run", "--dry-run", "--json", "--", "touch", join(dir, "touched")], { io, cwd: dir, exec })).toBe(0);
  expect(JSON.parse(io.stdout())).toEqual({ plan: { argv: ["touch", join(dir, "touched")], sources: ["project"], env: { GREETING: "hello", RETRIES: "3", API_TOKEN: "****" } } });
  expect(await Bun.file(join(dir, "touched")).exists()).toBe(false);
  exec.verify();
});
