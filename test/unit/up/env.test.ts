import { expect, test } from "bun:test";
import { createServer } from "node:net";
import * as v from "valibot";
import { buildGraph } from "../../../src/core/up/graph.ts";
import { envName, maskEnv, nodeEnv, serviceExposed, type Exposed } from "../../../src/core/up/env.ts";
import { resolvePort } from "../../../src/core/up/ports.ts";
import { configSchema } from "../../../src/config/schema.ts";

test("dependency env, DATABASE_URL from the first database it depends on, service env wins, PORT last", () => {
  const g = buildGraph(
    v.parse(configSchema, {
      databases: [{ engine: "postgres" }, { engine: "redis" }],
      services: [
        { name: "my-api", command: "x", port: 3000, env: { LOG: "debug", WORKER_HOST: "override" }, depends_on: ["worker", "redis", "postgres"] },
        { name: "worker", command: "x", port: 4000 },
      ],
    }),
  );
  const exposed = new Map<string, Exposed>([
    ["worker", serviceExposed(g.nodes.get("worker")!, 4001)],
    ["postgres", { env: { POSTGRES_URL: "postgres://u:pw@127.0.0.1:5432/db" }, url: "postgres://u:pw@127.0.0.1:5432/db" }],
    ["redis", { env: { REDIS_URL: "redis://127.0.0.1:6379" }, url: "redis://127.0.0.1:6379" }],
  ]);
  const env = nodeEnv({ graph: g, node: g.nodes.get("my-api")!, projectEnv: { TZ: "UTC", N: 3 }, exposed, port: 3002 });
  expect(env).toEqual({
    TZ: "UTC",
    N: "3",
    WORKER_URL: "http://127.0.0.1:4001",
    WORKER_HOST: "override",
    WORKER_PORT: "4001",
    POSTGRES_URL: "postgres://u:pw@127.0.0.1:5432/db",
    REDIS_URL: "redis://127.0.0.1:6379",
    DATABASE_URL: "postgres://u:pw@127.0.0.1:5432/db",
    LOG: "debug",
    PORT: "3002",
  });
  expect(envName("my-api")).toBe("MY_API");
});

test("masking: secret-looking keys and URL passwords", () => {
  expect(maskEnv({ DB_PASSWORD: "x", API_TOKEN: "t", AWS_SECRET_ACCESS_KEY: "s", DATABASE_URL: "postgres://devx:s3cr3t@127.0.0.1:5432/app", PLAIN: "http://127.0.0.1:80" })).toEqual({
    DB_PASSWORD: "****",
    API_TOKEN: "****",
    AWS_SECRET_ACCESS_KEY: "****",
    DATABASE_URL: "postgres://devx:****@127.0.0.1:5432/app",
    PLAIN: "http://127.0.0.1:80",
  });
});

test("a busy port shifts to the next free one; ports taken by other nodes are skipped", async () => {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen({ port: 0, host: "127.0.0.1" }, r));
  const busy = (srv.address() as { port: number }).port;
  try {
    const c = await resolvePort(busy, new Set());
    expect(c.shiftedFrom).toBe(busy);
    expect(c.port).not.toBe(busy);
    const free = await resolvePort(c.port, new Set());
    expect(free).toEqual({ port: c.port });
    const skip = await resolvePort(c.port, new Set([c.port]), async () => true);
    expect(skip).toEqual({ port: c.port + 1, shiftedFrom: c.port });
  } finally {
    srv.close();
  }
});
