import { expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import type { Deps } from "../../../src/cli/deps.ts";
import type { DbContext } from "../../../src/core/db/db-context.ts";
import { databaseNodeRuntime } from "../../../src/core/db/up-runtime.ts";
import { readCredentials } from "../../../src/core/db/credentials.ts";
import { FakeRuntime } from "./fake-runtime.ts";

test("an up database node: spawned on up's port, self-healthy, exposes its env, streams logs, stops (not removes) on teardown", async () => {
  const rt = new FakeRuntime();
  rt.execAnswers = [{ code: 0 }, { code: 0, stdout: "1\n" }, { code: 0, stdout: "ok" }];
  const stateDir = mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "state-"));
  const ctx: DbContext = { runtime: rt, project: "shop", stateDir, emit: () => {}, signal: new AbortController().signal, configured: [{ engine: "postgres", name: "main", image: "localhost/pg:1" }], portFree: async () => true, pollMs: 1 };
  const lines: string[] = [];
  const node = { name: "main", kind: "database" as const, runtime: "database" as const, database: { engine: "postgres" as const, name: "main", image: "localhost/pg:1" }, deps: [], restart: { policy: "no" } as never, graceMs: 3000 };
  const running = await databaseNodeRuntime({} as Deps, Promise.resolve(ctx)).start({ node, project: "shop", port: 15432, env: {}, baseDir: "/", line: (t) => lines.push(t), signal: new AbortController().signal });

  const pw = (await readCredentials(stateDir, "shop", "main"))!.password;
  expect(running.selfHealthy).toBe(true);
  expect(running.exposed).toEqual({
    env: { MAIN_URL: `postgres://shop:${pw}@127.0.0.1:15432/shop`, MAIN_HOST: "127.0.0.1", MAIN_PORT: "15432" },
    url: `postgres://shop:${pw}@127.0.0.1:15432/shop`,
  });
  expect(rt.runs[0]).toMatchObject({ image: "localhost/pg:1", name: "devx-shop-main", ports: [{ hostPort: 15432, containerPort: 5432 }] });
  expect(await running.exec(["pg_isready"], 1000)).toBe(0);

  rt.containers.get("devx-shop-main")!.logs.push("LOG: checkpoint starting");
  let exitedCode: number | undefined;
  void running.exited.then((c) => (exitedCode = c));
  await running.stop(3000);
  expect(await running.exited).toBe(1);
  expect(exitedCode).toBe(1);
  expect(lines).toEqual(["LOG: checkpoint starting"]);
  expect(rt.containers.get("devx-shop-main")?.state).toBe("exited");
  expect(rt.calls).not.toContain("remove devx-shop-main");
});
