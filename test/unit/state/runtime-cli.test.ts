import { expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { toContainerInfo } from "../../../providers/runtime/cli-family.ts";
import { DockerRuntime } from "../../../providers/runtime/docker.ts";
import type { Exec, ExecResult } from "../../../src/platform/exec.ts";

/** A strict exec stub: every call must match the next expectation, and all must be used. */
function strictExec(expected: Array<{ argv: string[]; result: Partial<ExecResult> }>): Exec & { done(): void } {
  const queue = [...expected];
  return {
    which: () => "/usr/bin/x",
    spawn: () => {
      throw new Error("unexpected spawn");
    },
    async run(argv) {
      const next = queue.shift();
      if (!next) throw new Error(`unexpected command: ${argv.join(" ")}`);
      expect(argv).toEqual(next.argv);
      return { argv, code: 0, stdout: "", stderr: "", timedOut: false, ...next.result };
    },
    done: () => expect(queue.map((q) => q.argv.join(" "))).toEqual([]),
  };
}

test("docker-format inspect (leading slash, Config.Image, no ImageName) maps to ContainerInfo", () => {
  const info = toContainerInfo({
    Id: "abc",
    Name: "/db",
    Config: { Image: "postgres:16", Labels: { "devx.managed": "true" } },
    State: { Status: "running" },
    HostConfig: { PortBindings: { "5432/tcp": [{ HostIp: "", HostPort: "15432" }], "9/udp": null } },
    Mounts: [{ Type: "bind", Destination: "/src" }, { Type: "volume", Name: "pgdata", Destination: "/var/lib/postgresql/data" }],
  });
  expect(info).toMatchObject({ id: "abc", name: "db", image: "postgres:16", state: "running" });
  expect(info.ports).toEqual([{ hostIp: "0.0.0.0", hostPort: 15432, containerPort: 5432, protocol: "tcp" }]);
  expect(info.volumes).toEqual([{ name: "pgdata", destination: "/var/lib/postgresql/data" }]);
});

test("listContainers selects by label through ps -q then one inspect, and re-checks every label itself; docker has no checkpointer", async () => {
  const exec = strictExec([
    { argv: ["docker", "ps", "-q", "--no-trunc", "--filter", "label=devx.managed=true"], result: { stdout: "id1\nid2\n" } },
    { argv: ["docker", "container", "inspect", "id1", "id2"], result: { stdout: JSON.stringify([{ Id: "id2", Name: "/b", Config: { Image: "i", Labels: { "devx.managed": "true" } } }, { Id: "id1", Name: "/a", Config: { Image: "i", Labels: { "devx.managed": "true" } } }, { Id: "id3", Name: "/c", Config: { Image: "i", Labels: { "devx.managed": "false" } } }]) } },
  ]);
  const rt = new DockerRuntime({ exec });
  expect((await rt.listContainers({ labels: { "devx.managed": "true" } })).map((c) => c.name)).toEqual(["a", "b"]);
  expect(rt.checkpointer).toBeUndefined();
  exec.done();
});

test("a secret env var goes to the runtime through a 0600 env file removed after run: never argv, never the CLI's environment", async () => {
  let file = "";
  let mode = 0;
  let content = "";
  const seen: Array<Record<string, string | undefined> | undefined> = [];
  const exec: Exec = {
    which: () => "/usr/bin/docker",
    spawn: () => {
      throw new Error("unexpected spawn");
    },
    async run(argv, o) {
      seen.push(o?.env);
      file = argv[argv.indexOf("--env-file") + 1]!;
      expect(argv).toEqual(["docker", "run", "-d", "--name", "x", "--env-file", file, "img"]);
      mode = statSync(file).mode & 0o777;
      content = readFileSync(file, "utf8");
      return { argv, code: 0, stdout: "newid\n", stderr: "", timedOut: false };
    },
  };
  expect(await new DockerRuntime({ exec }).run({ name: "x", image: "img", secretEnv: { PGPASSWORD: "s3cret" } })).toBe("newid");
  expect(content).toBe("PGPASSWORD=s3cret\n");
  expect(mode).toBe(0o600);
  expect(existsSync(file)).toBe(false);
  expect(seen[0]).toEqual({});
});
