import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { ExecStub } from "../../support/exec-stub.ts";
import { PodmanRuntime } from "../../../providers/runtime/podman.ts";
import { spawnDatabase } from "../../../src/core/db/spawn.ts";
import { readCredentials } from "../../../src/core/db/credentials.ts";

/**
 * Mongo has no Debian package, so no offline image can run it here: this drives the real podman
 * adapter through a strict exec stub answering with podman 4.3's recorded `container inspect`
 * output and mongosh's answers before and after the server accepts connections.
 */
const inspect = readFileSync(join(import.meta.dir, "fixtures/podman-inspect-mongo.json"), "utf8");
const LABELS = ["--label", "devx.managed=true", "--label", "devx.project=shop", "--label", "devx.kind=database", "--label", "devx.engine=mongo", "--label", "devx.database=mongo"];
// mongosh against the container's own address, never 127.0.0.1 (where the init server listens)
const mongosh = (a: string) => a.startsWith("exec mongosh --quiet --norc --host \"$(hostname -i") && a.endsWith('--eval "$0"');

test("mongo: volume, run with the password only in a 0600 env file, mongosh ping until authenticated ok", async () => {
  const stateDir = mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "state-"));
  let password = "";
  let envFile = "";
  const stub = new ExecStub([
    { argv: ["podman", "container", "inspect", "devx-shop-mongo"], code: 125, stderr: "Error: inspecting object: no such container devx-shop-mongo\n" },
    { argv: ["podman", "volume", "ls", "--format", "json", "--filter", "label=devx.managed=true", "--filter", "label=devx.project=shop", "--filter", "label=devx.database=mongo"], stdout: "[]\n" },
    { argv: ["podman", "volume", "ls", "--format", "json"], stdout: '[{"Name":"other-volume","Labels":{},"Mountpoint":"/x"}]\n' },
    { argv: ["podman", "volume", "create", ...LABELS, "devx-shop-mongo-data"], stdout: "devx-shop-mongo-data\n" },
    { argv: ["podman", "image", "inspect", "docker.io/library/mongo:7"], stdout: '[{"Id":"4f2ab2c8b4a1","RepoTags":["docker.io/library/mongo:7"]}]\n' },
    {
      argv: ["podman", "run", "-d", "--name", "devx-shop-mongo", "--env-file", /\/devx-env-[^/]+\/env$/, ...LABELS, "-e", "MONGO_INITDB_ROOT_USERNAME=shop", "-e", "MONGO_INITDB_DATABASE=shop", "-p", "127.0.0.1:27017:27017", "-v", "devx-shop-mongo-data:/data/db", "docker.io/library/mongo:7"],
      stdout: "00eb20c902b4761532c92da4c0ff04d8f96127e2f765c6a014afd4ad2f498925\n",
      check: (call) => {
        // the password is in the 0600 env file only: not in argv, not in podman's environment
        expect(call.env?.MONGO_INITDB_ROOT_PASSWORD).toBeUndefined();
        const file = call.argv[call.argv.indexOf("--env-file") + 1]!;
        expect(statSync(file).mode & 0o777).toBe(0o600);
        password = /^MONGO_INITDB_ROOT_PASSWORD=(.*)$/m.exec(readFileSync(file, "utf8"))?.[1] ?? "";
        envFile = file;
      },
    },
    { argv: ["podman", "container", "inspect", "devx-shop-mongo"], stdout: inspect, times: 3 },
    { argv: ["podman", "exec", "devx-shop-mongo", "sh", "-c", mongosh, /process\.env\.MONGO_INITDB_ROOT_PASSWORD/], code: 1, stderr: "MongoNetworkError: connect ECONNREFUSED 10.88.0.7:27017\n" },
    { argv: ["podman", "exec", "devx-shop-mongo", "sh", "-c", mongosh, /runCommand\(\{ ping: 1 \}\)/], stdout: '{"ok":1}\n' },
  ]);
  const runtime = new PodmanRuntime({ exec: stub, tmpDir: join(stateDir, "tmp") });
  const db = await spawnDatabase({ runtime, project: "shop", stateDir, emit: () => {}, signal: new AbortController().signal, configured: [], portFree: async () => true, pollMs: 1 }, { engine: "mongo" });
  stub.verify();

  const creds = (await readCredentials(stateDir, "shop", "mongo"))!;
  expect(password).toBe(creds.password);
  expect(password).toMatch(/^[A-Za-z0-9_-]{32}$/);
  expect(existsSync(envFile)).toBe(false);
  for (const c of stub.calls) expect(c.argv.join(" ")).not.toContain(password);
  expect(db).toMatchObject({ name: "mongo", engine: "mongo", port: 27017, volume: "devx-shop-mongo-data", state: "running" });
  expect(db.url).toBe(`mongodb://shop:${password}@127.0.0.1:27017/shop?authSource=admin`);
});
