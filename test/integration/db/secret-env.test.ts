import { afterAll, beforeAll, expect } from "bun:test";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { runCli } from "../../../src/cli/run.ts";
import { memoryIO } from "../../../src/cli/io.ts";
import { systemExec, type Exec } from "../../../src/platform/exec.ts";
import { readCredentials } from "../../../src/core/db/credentials.ts";
import { podmanAvailable } from "../../support/images.ts";
import { testWith } from "../../support/require.ts";
import { dbTestImage, DB_IMAGE_BUILD_TIMEOUT_MS } from "../../support/db-images.ts";

/**
 * The database password reaches the container and nothing else: not the argv and not the
 * environment of the real `podman run` process (read from /proc/<pid>/environ), nor conmon's. Cloud
 * credentials in devx's own environment are not inherited by podman either.
 */
const available = podmanAvailable();
const test = testWith("podman", available);
const project = `secenv-${randomBytes(3).toString("hex")}`;
const dir = mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "secenv-"));
const stateDir = join(process.env.DEVX_HOME!, "state");
const container = `devx-${project}-cache`;
const sh = (argv: string[]) => Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" }).stdout.toString();

beforeAll(async () => {
  if (!available) return;
  const image = await dbTestImage("redis");
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen({ port: 0, host: "127.0.0.1" }, () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  writeFileSync(join(dir, "devx.yaml"), `name: ${project}\ndatabases:\n  - engine: redis\n    name: cache\n    image: ${image}\n    port: ${port}\n`);
}, DB_IMAGE_BUILD_TIMEOUT_MS);

afterAll(() => {
  if (!available) return;
  sh(["podman", "rm", "-f", "-t", "0", container]);
  sh(["podman", "volume", "rm", "-f", `${container}-data`]);
});

test("db spawn: the password is in neither argv nor the environment of podman run or conmon; AWS credentials stay with devx", async () => {
  const dump = join(dir, "podman-run.environ");
  const fileState = join(dir, "env-file.state");
  // `podman run -d` becomes `sh -c '<record>; exec podman run …'`: the same process, so the same environment
  const exec: Exec = {
    ...systemExec,
    run(argv, opts) {
      if (argv[0] === "podman" && argv[1] === "run" && argv[2] === "-d") {
        const envFile = argv[argv.indexOf("--env-file") + 1] ?? "";
        const record = `cat /proc/$$/environ > ${dump}; stat -c %a "$1" > ${fileState} 2>&1; shift`;
        return systemExec.run(["sh", "-c", `${record}; exec "$@"`, "sh", envFile, ...argv], opts);
      }
      return systemExec.run(argv, opts);
    },
  };
  process.env.AWS_SECRET_ACCESS_KEY = "aws-secret-for-the-relay-only";
  let code: number;
  const io = memoryIO();
  try {
    code = await runCli(["db", "spawn", "cache"], { io, cwd: dir, env: process.env, exec });
  } finally {
    delete process.env.AWS_SECRET_ACCESS_KEY;
  }
  expect(io.stderr()).toContain("✓ redis cache");
  expect(code).toBe(0);
  const password = (await readCredentials(stateDir, project, "cache"))!.password;

  const environ = readFileSync(dump, "utf8");
  expect(environ).toContain("PATH=");
  expect(environ).not.toContain(password);
  expect(environ).not.toContain("REDIS_PASSWORD");
  expect(environ).not.toContain("aws-secret-for-the-relay-only");
  // the env file existed, private, while podman read it; it is gone now
  expect(readFileSync(fileState, "utf8").trim()).toBe("600");
  const inspect = JSON.parse(sh(["podman", "container", "inspect", container]))[0];
  expect(JSON.stringify(inspect.Config.CreateCommand)).not.toContain(password);
  const envFile = (inspect.Config.CreateCommand as string[])[(inspect.Config.CreateCommand as string[]).indexOf("--env-file") + 1]!;
  expect(existsSync(envFile)).toBe(false);

  // the container has it; conmon (podman's long-lived child) does not
  expect(sh(["podman", "exec", container, "printenv", "REDIS_PASSWORD"]).trim()).toBe(password);
  const conmon = Number(inspect.State.ConmonPid);
  expect(conmon).toBeGreaterThan(0);
  expect(readFileSync(`/proc/${conmon}/environ`, "utf8")).not.toContain(password);
}, 120_000);
