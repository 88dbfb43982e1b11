import { afterAll, beforeAll, describe, expect } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { runCli } from "../../../src/cli/run.ts";
import { createDeps } from "../../../src/cli/deps.ts";
import { memoryIO } from "../../../src/cli/io.ts";
import { globalOptions, type GlobalOptions } from "../../../src/cli/define.ts";
import * as v from "valibot";
import { databaseEnv } from "../../../src/core/db/databases.ts";
import { databaseNodeRuntime } from "../../../src/core/db/up-runtime.ts";
import { credentialsFile, readCredentials } from "../../../src/core/db/credentials.ts";
import { criuAvailable, podmanAvailable } from "../../support/images.ts";
import { testWith } from "../../support/require.ts";
import { dbTestImage, DB_IMAGE_BUILD_TIMEOUT_MS } from "../../support/db-images.ts";

const available = podmanAvailable();
const test = testWith("podman", available);
const project = `f2it-${randomBytes(3).toString("hex")}`;
const dir = mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "proj-"));
const stateDir = join(process.env.DEVX_HOME!, "state");
const images: Record<string, string> = {};
const ports: number[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen({ port: 0, host: "127.0.0.1" }, () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

async function cli(args: string[]) {
  const io = memoryIO();
  const code = await runCli(args, { io, cwd: dir, env: process.env });
  return { code, out: io.stdout(), err: io.stderr() };
}

function sh(argv: string[], env?: Record<string, string>) {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() };
}

const containerExists = (name: string) => sh(["podman", "container", "exists", name]).code === 0;
const volumeExists = (name: string) => sh(["podman", "volume", "exists", name]).code === 0;

beforeAll(async () => {
  if (!available) return;
  images.postgres = await dbTestImage("postgres");
  images.redis = await dbTestImage("redis");
  images.mysql = await dbTestImage("mysql");
  for (let i = 0; i < 4; i++) ports.push(await freePort());
  writeFileSync(
    join(dir, "devx.yaml"),
    `name: ${project}
databases:
  - engine: postgres
    image: ${images.postgres}
    port: ${ports[0]}
  - engine: redis
    name: cache
    image: ${images.redis}
    port: ${ports[1]}
  - engine: mysql
    image: ${images.mysql}
    port: ${ports[2]}
`,
  );
}, DB_IMAGE_BUILD_TIMEOUT_MS);

afterAll(() => {
  if (!available) return;
  const ids = sh(["podman", "ps", "-aq", "--filter", `label=devx.project=${project}`]).out.split("\n").filter(Boolean);
  if (ids.length) sh(["podman", "rm", "-f", "-t", "0", ...ids]);
  const vols = sh(["podman", "volume", "ls", "-q", "--filter", `label=devx.project=${project}`]).out.split("\n").filter(Boolean);
  if (vols.length) sh(["podman", "volume", "rm", "-f", ...vols]);
});

describe("databases on real podman", () => {
  test(
    "postgres: spawn, a real query from the host with the injected env, data survives restart and rm, rm --volume clears all",
    async () => {
      const container = `devx-${project}-postgres`;
      const spawn = await cli(["db", "spawn", "postgres"]);
      expect(spawn.err).toContain("✓ postgres");
      expect(spawn.code).toBe(0);

      const url = (await cli(["db", "url", "postgres"])).out.trim();
      const creds = (await readCredentials(stateDir, project, "postgres"))!;
      const user = project.replace(/-/g, "_");
      expect(url).toBe(`postgres://${user}:${creds.password}@127.0.0.1:${ports[0]}/${user}`);

      // psql on the host, given only the env devx injects into `run`/`shell` (no password in argv)
      const deps = createDeps(v.parse(globalOptions, {}) as GlobalOptions, { cwd: dir, io: memoryIO() });
      const env = await databaseEnv(deps);
      expect(env.DATABASE_URL).toBe(url);
      const created = sh(["psql", "-v", "ON_ERROR_STOP=1", "-tAc", "CREATE TABLE items (n int); INSERT INTO items VALUES (42); SELECT current_user"], env);
      expect(created.err).toBe("");
      expect(created.out.trim().split("\n").pop()).toBe(user);

      // the secret stays out of every argv: podman's record of the container and the process table
      expect(statSync(credentialsFile(stateDir, project, "postgres")).mode & 0o777).toBe(0o600);
      const inspect = JSON.parse(sh(["podman", "container", "inspect", container]).out)[0];
      expect(JSON.stringify([inspect.Path, inspect.Args, inspect.Config.Cmd, inspect.Config.Entrypoint, inspect.Config.CreateCommand])).not.toContain(creds.password);
      expect(inspect.Config.Labels).toMatchObject({ "devx.kind": "database", "devx.engine": "postgres", "devx.project": project });
      expect(sh(["ps", "-eo", "args"]).out).not.toContain(creds.password);
      const users = sh(["podman", "top", container, "user", "args"]).out.split("\n").slice(1).filter(Boolean);
      expect(users.length).toBeGreaterThan(0);
      for (const u of users) expect(u).toStartWith("postgres");

      expect((await cli(["db", "restart", "postgres"])).code).toBe(0);
      expect(sh(["psql", "-tAc", "SELECT n FROM items"], env).out.trim()).toBe("42");

      const rm = await cli(["db", "rm", "postgres"]);
      expect(rm.code).toBe(0);
      expect(containerExists(container)).toBe(false);
      expect(volumeExists(`${container}-data`)).toBe(true);
      const kept = JSON.parse((await cli(["db", "ls", "--json"])).out).databases;
      expect(kept).toContainEqual(expect.objectContaining({ name: "postgres", state: "volume only", volume: `${container}-data` }));

      const again = await cli(["db", "spawn", "postgres"]);
      expect(again.code).toBe(0);
      expect(sh(["psql", "-tAc", "SELECT n FROM items"], env).out.trim()).toBe("42");

      const refused = await cli(["db", "rm", "postgres", "--volume"]);
      expect(refused.code).toBe(2);
      expect(refused.err).toContain("pass -y/--yes");
      expect(containerExists(container)).toBe(true);

      expect((await cli(["db", "rm", "postgres", "--volume", "-y"])).code).toBe(0);
      expect(containerExists(container)).toBe(false);
      expect(volumeExists(`${container}-data`)).toBe(false);
      expect(await readCredentials(stateDir, project, "postgres")).toBeUndefined();
    },
    120_000,
  );

  test(
    "redis: PING needs the generated password; ls --json masks it",
    async () => {
      expect((await cli(["db", "spawn", "redis"])).code).toBe(0);
      const creds = (await readCredentials(stateDir, project, "cache"))!;
      const talk = (lines: string[]) =>
        new Promise<string>((resolve, reject) => {
          let got = "";
          const want = lines.length;
          Bun.connect({
            hostname: "127.0.0.1",
            port: ports[1]!,
            socket: {
              open: (s) => void s.write(lines.map((l) => `${l}\r\n`).join("")),
              data: (s, d) => {
                got += d.toString();
                if (got.split("\r\n").length > want) (s.end(), resolve(got));
              },
              error: (_s, e) => reject(e),
            },
          }).catch(reject);
        });
      expect(await talk(["PING"])).toStartWith("-NOAUTH");
      expect(await talk([`AUTH ${creds.password}`, "PING"])).toBe("+OK\r\n+PONG\r\n");

      const ls = await cli(["db", "ls", "--json"]);
      expect(ls.out).not.toContain(creds.password);
      const cache = JSON.parse(ls.out).databases.find((d: { name: string }) => d.name === "cache");
      expect(cache).toMatchObject({ engine: "redis", state: "running", port: ports[1], url: `redis://:****@127.0.0.1:${ports[1]}/0`, volume: `devx-${project}-cache-data` });
      expect(sh(["podman", "top", `devx-${project}-cache`, "user"]).out.split("\n")[1]?.trim()).toBe("redis");
      expect((await cli(["db", "rm", "cache", "--volume", "-y"])).code).toBe(0);
    },
    60_000,
  );

  test(
    "a busy port: an explicit --port is a conflict (nothing created), the configured one shifts aloud",
    async () => {
      const blocker: Server = await new Promise((resolve) => {
        const s = createServer().listen({ port: ports[3], host: "127.0.0.1" }, () => resolve(s));
      });
      try {
        const conflict = await cli(["db", "spawn", "redis", "--name", "busy", "--port", String(ports[3])]);
        expect(conflict.err).toContain(`port ${ports[3]} on 127.0.0.1 is already in use`);
        expect(conflict.code).not.toBe(0);
        expect(containerExists(`devx-${project}-busy`)).toBe(false);

        writeFileSync(join(dir, "devx.yaml"), `name: ${project}\ndatabases:\n  - engine: redis\n    name: busy\n    image: ${images.redis}\n    port: ${ports[3]}\n`);
        const shifted = await cli(["db", "spawn", "busy"]);
        expect(shifted.code).toBe(0);
        expect(shifted.err).toMatch(new RegExp(`port ${ports[3]} is busy: busy listens on 127\\.0\\.0\\.1:(\\d+) instead`));
        const port = JSON.parse((await cli(["db", "url", "busy", "--json"])).out).port;
        expect(port).not.toBe(ports[3]);
        expect(shifted.err).toContain(`127.0.0.1:${port} instead`);
      } finally {
        blocker.close();
      }
    },
    60_000,
  );

  test(
    "mysql (MariaDB test image): ready only once a real SELECT works for the generated user",
    async () => {
      writeFileSync(join(dir, "devx.yaml"), `name: ${project}\ndatabases:\n  - engine: mysql\n    image: ${images.mysql}\n    port: ${ports[2]}\n`);
      expect((await cli(["db", "spawn", "mysql"])).code).toBe(0);
      const q = sh(["podman", "exec", `devx-${project}-mysql`, "sh", "-c", 'MYSQL_PWD="$MYSQL_PASSWORD" mysql -h 127.0.0.1 -u"$MYSQL_USER" -N -B -e "SELECT CURRENT_USER()" "$MYSQL_DATABASE"']);
      expect(q.out.trim()).toBe(`${project.replace(/-/g, "_")}@%`);
      const url = (await cli(["db", "url", "mysql"])).out.trim();
      expect(url).toMatch(new RegExp(`^mysql://${project.replace(/-/g, "_")}:[A-Za-z0-9_-]{32}@127\\.0\\.0\\.1:${ports[2]}/`));
    },
    90_000,
  );

  test(
    "an up database node on real podman: ready on up's port, logs streamed, stopped (kept) on teardown",
    async () => {
      const deps = createDeps(v.parse(globalOptions, {}) as GlobalOptions, { cwd: dir, io: memoryIO(), emit: () => {} });
      writeFileSync(join(dir, "devx.yaml"), `name: ${project}\ndatabases:\n  - engine: redis\n    name: queue\n    image: ${images.redis}\n`);
      const port = await freePort();
      const lines: string[] = [];
      const node = { name: "queue", kind: "database" as const, runtime: "database" as const, database: { engine: "redis" as const, name: "queue", image: images.redis }, deps: [], restart: {} as never, graceMs: 5000 };
      const running = await databaseNodeRuntime(deps).start({ node, project, port, env: {}, baseDir: dir, line: (t) => lines.push(t), signal: new AbortController().signal });
      expect(running.exposed?.env.QUEUE_PORT).toBe(String(port));
      expect(running.exposed?.url).toMatch(new RegExp(`^redis://:[A-Za-z0-9_-]{32}@127\\.0\\.0\\.1:${port}/0$`));
      expect(await running.exec(["sh", "-c", 'REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli ping'], 10_000)).toBe(0);
      await running.stop(5000);
      expect(await running.exited).toBe(1);
      expect(lines.join("\n")).toContain("ready to exit");
      expect(sh(["podman", "container", "inspect", "--format", "{{.State.Status}}", `devx-${project}-queue`]).out.trim()).toBe("exited");
    },
    60_000,
  );

  test(
    "logs --follow streams until Ctrl-C and leaves no runtime process behind",
    async () => {
      writeFileSync(join(dir, "devx.yaml"), `name: ${project}\ndatabases:\n  - engine: redis\n    name: tail\n    image: ${images.redis}\n    port: ${await freePort()}\n`);
      expect((await cli(["db", "spawn", "tail"])).code).toBe(0);
      const ac = new AbortController();
      let out = "";
      const io = { ...memoryIO(), out: { write: (s: string) => void ((out += s), out.includes("Ready to accept connections") && ac.abort()), isTTY: false, columns: 100 } };
      const code = await runCli(["db", "logs", "tail", "--follow"], { io, cwd: dir, env: process.env, signal: ac.signal });
      expect(ac.signal.aborted).toBe(true);
      expect(code).toBe(0);
      expect(sh(["pgrep", "-f", `logs -f devx-${project}-tail`]).out).toBe("");
      expect((await cli(["db", "rm", "tail", "--volume", "-y"])).code).toBe(0);
    },
    60_000,
  );

  testWith("criu", available && criuAvailable())(
    "the postgres test image checkpoints and restores with CRIU (server running as postgres, data intact)",
    async () => {
      const pgPort = await freePort();
      writeFileSync(join(dir, "devx.yaml"), `name: ${project}\ndatabases:\n  - engine: postgres\n    name: ckpt\n    image: ${images.postgres}\n    port: ${pgPort}\n`);
      expect((await cli(["db", "spawn", "ckpt"])).code).toBe(0);
      const container = `devx-${project}-ckpt`;
      const psql = (sql: string) => sh(["podman", "exec", container, "psql", "-U", project.replace(/-/g, "_"), "-d", project.replace(/-/g, "_"), "-tAc", sql]).out.trim();
      expect(psql("CREATE TABLE t (n int); INSERT INTO t VALUES (7); SELECT count(*) FROM t").split("\n").pop()).toBe("1");
      const archive = join(dir, "ckpt.tar.zst");
      const ck = sh(["podman", "container", "checkpoint", `--export=${archive}`, "--compress=zstd", "--ignore-volumes", container]);
      expect(ck.code).toBe(0);
      sh(["podman", "rm", "-f", container]);
      const rs = sh(["podman", "container", "restore", `--import=${archive}`, "--ignore-volumes"]);
      expect(rs.code).toBe(0);
      expect(psql("SELECT n FROM t")).toBe("7");
      expect((await cli(["db", "url", "ckpt", "--json"])).out).toContain(`"port": ${pgPort}`);
      expect((await cli(["db", "rm", "ckpt", "--volume", "-y"])).code).toBe(0);
    },
    90_000,
  );
});
