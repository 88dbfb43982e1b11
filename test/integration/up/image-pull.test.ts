import { afterAll, expect } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../../src/cli/main.ts";
import { memoryIO } from "../../../src/cli/io.ts";
import { testWith } from "../../support/require.ts";
import { podmanAvailable } from "../../support/images.ts";
import { freePort } from "./helpers.ts";

/**
 * No registry is reachable here, so a real `podman run` of an image that is not local fails the way
 * it does on a laptop offline: `up` and `db spawn` must say the same clear thing, and a failed
 * `db spawn` must leave nothing behind except what was there before.
 */
const podman = podmanAvailable();
const test = testWith("podman", podman);
const MISSING = "docker.io/library/devx-no-such-image:1";
const dir = mkdtempSync(join(tmpdir(), "devx-pull-"));
const project = `pull-${process.pid}-${Date.now() % 100000}`;
const sh = (argv: string[]) => Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
const volumeExists = (name: string) => sh(["podman", "volume", "exists", name]).exitCode === 0;
const leftContainers = () => sh(["podman", "ps", "-aq", "--filter", `label=devx.project=${project}`]).stdout.toString().trim();
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  if (!podman) return;
  sh(["podman", "rm", "-f", "-t", "0", "--filter", `label=devx.project=${project}`]);
  for (const v of sh(["podman", "volume", "ls", "-q", "--filter", `label=devx.project=${project}`]).stdout.toString().split("\n").filter(Boolean)) sh(["podman", "volume", "rm", "-f", v]);
  sh(["podman", "volume", "rm", "-f", `devx-${project}-kept-data`]);
});

async function cli(args: string[]) {
  const io = memoryIO();
  const code = await main(args, { io, cwd: dir });
  return { code, err: io.stderr() };
}

test("an image that cannot be pulled: up and db spawn give the same error and hint, and nothing is left behind", async () => {
  writeFileSync(join(dir, "devx.yaml"), [`name: ${project}`, "services:", "  - name: web", "    runtime: container", `    image: ${MISSING}`, `    port: ${await freePort()}`].join("\n") + "\n");
  const up = await cli(["up"]);
  expect(up.code).toBe(7);
  const [line, hint] = up.err.split("\n").filter((l) => l.startsWith("error:") || l.startsWith("  hint:"));
  expect(line).toStartWith(`error: could not start web: ${MISSING} is not available here and could not be pulled (podman: initializing source docker://`);
  expect(line).not.toContain(" | ");
  expect(hint).toBe("  hint: check the registry is reachable, or point devx.yaml `services[].image` at an image you have");
  expect(up.err).toContain(`${MISSING} is not here yet: podman pulls it first`);
  expect(leftContainers()).toBe("");

  const db = await cli(["db", "spawn", "redis", "--image", MISSING]);
  expect(db.code).toBe(7);
  expect(db.err).toContain(`error: could not start redis: ${MISSING} is not available here and could not be pulled (podman: initializing source docker://`);
  expect(db.err).toContain("hint: check the registry is reachable, or point devx.yaml `databases[].image` (or --image) at an image you have");
  expect(volumeExists(`devx-${project}-redis-data`)).toBe(false);
  expect(leftContainers()).toBe("");
}, 60_000);

test("db spawn: a busy --port leaves no volume; a failed spawn keeps a volume that was there before", async () => {
  const busy = createServer();
  await new Promise<void>((r) => busy.listen({ port: 0, host: "127.0.0.1" }, r));
  try {
    const port = (busy.address() as { port: number }).port;
    const conflict = await cli(["db", "spawn", "postgres", "--port", String(port)]);
    expect(conflict.code).toBe(5);
    expect(conflict.err).toContain(`error: port ${port} on 127.0.0.1 is already in use`);
    expect(volumeExists(`devx-${project}-postgres-data`)).toBe(false);
  } finally {
    busy.close();
  }
  const kept = `devx-${project}-kept-data`;
  expect(sh(["podman", "volume", "create", kept]).exitCode).toBe(0);
  const failed = await cli(["db", "spawn", "redis", "--name", "kept", "--image", MISSING]);
  expect(failed.code).toBe(7);
  expect(volumeExists(kept)).toBe(true);
}, 60_000);
