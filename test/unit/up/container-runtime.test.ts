import { expect, test } from "bun:test";
import { containerRuntime } from "../../../src/core/up/runtimes/container.ts";
import type { ContainerRuntime, RunSpec } from "../../../providers/runtime/types.ts";
import type { NodeSpec } from "../../../src/core/up/graph.ts";

/** A strict fake: only the calls a container node makes; anything else fails the test. */
function fakeRuntime(calls: string[], specs: RunSpec[]): ContainerRuntime {
  let stopped!: () => void;
  const ended = new Promise<void>((r) => (stopped = r));
  const fake = {
    displayName: "fake",
    async remove(name: string) {
      calls.push(`remove ${name}`);
    },
    async run(spec: RunSpec) {
      calls.push(`run ${spec.name}`);
      specs.push(spec);
      return "id";
    },
    async *logs(name: string) {
      calls.push(`logs ${name}`);
      yield "hello from the container";
      await ended;
    },
    async stop(name: string, grace?: number) {
      calls.push(`stop ${name} ${grace}`);
      stopped();
    },
    async inspectContainer() {
      return undefined;
    },
    async imageExists(image: string) {
      calls.push(`imageExists ${image}`);
      return true;
    },
  };
  return new Proxy(fake, {
    get(t, k) {
      if (k in t) return t[k as keyof typeof t];
      if (k === "then") return undefined;
      throw new Error(`unexpected runtime call: ${String(k)}`);
    },
  }) as unknown as ContainerRuntime;
}

test("a container node: labels, 127.0.0.1 port, PORT = container port, secrets only through the runtime's environment, stop + remove", async () => {
  const calls: string[] = [];
  const specs: RunSpec[] = [];
  const rt = containerRuntime(async () => fakeRuntime(calls, specs));
  const node = { name: "web", kind: "service", runtime: "container", service: { name: "web", runtime: "container", image: "img:1", command: "httpd -f", port: 8081, container_port: 80, restart: "no" }, deps: [], restart: { policy: "no" }, graceMs: 3000 } as unknown as NodeSpec;
  const lines: string[] = [];
  const running = await rt.start({
    node,
    project: "demo",
    port: 8082,
    env: { DATABASE_URL: "postgres://app:pw123@127.0.0.1:5432/app", API_KEY: "k", PLAIN: "x" },
    baseDir: "/tmp",
    line: (l) => lines.push(l),
    signal: new AbortController().signal,
  });
  const spec = specs[0]!;
  expect(spec).toMatchObject({
    name: "devx-demo-web",
    image: "img:1",
    command: ["sh", "-c", "httpd -f"],
    env: { PLAIN: "x", PORT: "80" },
    secretEnv: { DATABASE_URL: "postgres://app:pw123@127.0.0.1:5432/app", API_KEY: "k" },
    labels: { "devx.managed": "true", "devx.project": "demo", "devx.kind": "service", "devx.service": "web" },
    ports: [{ hostIp: "127.0.0.1", hostPort: 8082, containerPort: 80 }],
  });
  await running.stop(3000);
  expect(await running.exited).toBe(1);
  expect(lines).toEqual(["hello from the container"]);
  expect(calls).toEqual(["remove devx-demo-web", "imageExists img:1", "run devx-demo-web", "logs devx-demo-web", "stop devx-demo-web 3", "remove devx-demo-web"]);
});
