import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, findConfigFile, ConfigErrors } from "../../../src/config/load.ts";
import { NotFoundError } from "../../../src/errors.ts";

const root = mkdtempSync(join(tmpdir(), "devx-config-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function project(files: Record<string, string>): string {
  const dir = join(root, `p${n++}`);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

async function problems(dir: string, file = "devx.yaml", profile?: string): Promise<string[]> {
  try {
    await loadConfig(join(dir, file), { cwd: dir, profile });
  } catch (e) {
    if (e instanceof ConfigErrors) return e.problems;
    throw e;
  }
  throw new Error("expected the config to be invalid");
}

const GOOD = `name: shop
env:
  LOG_LEVEL: debug
databases:
  - engine: postgres
services:
  - name: worker
    command: ./worker
  - name: api
    command: ["./api", "--port", "8080"]
    port: 8080
    depends_on:
      worker: { condition: service_healthy }
    healthcheck:
      http: /health
      interval: 2s
`;

describe("devx.yaml validation", () => {
  test("a valid file loads with defaults applied", async () => {
    const dir = project({ "devx.yaml": GOOD });
    const c = await loadConfig(join(dir, "devx.yaml"), { cwd: dir });
    expect(c.config.name).toBe("shop");
    expect(c.config.services?.[1]).toMatchObject({ name: "api", runtime: "host", restart: "no", port: 8080 });
    expect(c.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  test("errors carry file, line, column and key path", async () => {
    const dir = project({
      "devx.yaml": `name: shop
services:
  - name: a
    command: x
  - name: b
    command: y
  - name: c
    command: z
    healthcheck:
      tcp: true
      interval: fast
`,
    });
    expect(await problems(dir)).toEqual(['devx.yaml:11:17 services[2].healthcheck.interval: expected an interval like "2s", got "fast"']);
  });

  test("unknown keys are errors with a did-you-mean, pointing at the key", async () => {
    const dir = project({ "devx.yaml": "name: shop\nservies:\n  - name: a\n" });
    expect(await problems(dir)).toEqual(['devx.yaml:2:1 servies: unknown key "servies"; did you mean "services"?']);
    const nested = project({ "devx.yaml": "services:\n  - name: a\n    comand: x\n" });
    expect(await problems(nested)).toEqual(['devx.yaml:3:5 services[0].comand: unknown key "comand"; did you mean "command"?']);
  });

  test("every problem is reported, each with its own position", async () => {
    const dir = project({ "devx.yaml": "name: Shop!\nservices:\n  - name: a\n    port: 70000\n    restart: sometimes\n" });
    const p = await problems(dir);
    expect(p).toHaveLength(3);
    expect(p[0]).toStartWith("devx.yaml:1:7 name: expected a name of lowercase letters");
    expect(p[1]).toBe("devx.yaml:4:11 services[0].port: expected a port from 1 to 65535, got 70000");
    expect(p[2]).toStartWith('devx.yaml:5:14 services[0].restart: expected "no", "always", "on-failure" or "on-failure:N", got "sometimes"');
  });

  test("YAML syntax errors have positions too", async () => {
    const dir = project({ "devx.yaml": "name: shop\nservices:\n  - name: [a\n" });
    const p = await problems(dir);
    expect(p[0]).toMatch(/^devx\.yaml:\d+:\d+ /);
  });

  test("a healthcheck needs exactly one of http, tcp, exec", async () => {
    const dir = project({ "devx.yaml": "services:\n  - name: a\n    healthcheck:\n      http: /\n      tcp: true\n" });
    expect((await problems(dir))[0]).toContain("services[0].healthcheck: expected exactly one of http, tcp or exec");
  });
});

describe("include:", () => {
  test("included files are merged; the including file overrides them", async () => {
    const dir = project({
      "devx.yaml": "name: shop\ninclude: [infra/db.yaml, infra/web.yaml]\nservices:\n  - name: web\n    port: 9000\n",
      "infra/db.yaml": "databases:\n  - engine: redis\nenv:\n  A: '1'\n",
      "infra/web.yaml": "services:\n  - name: web\n    command: ./web\n    port: 8000\nenv:\n  B: '2'\n",
    });
    const c = await loadConfig(join(dir, "devx.yaml"), { cwd: dir });
    expect(c.config.services).toEqual([{ name: "web", command: "./web", port: 9000, runtime: "host", restart: "no" }]);
    expect(c.config.env).toEqual({ A: "1", B: "2" });
    expect(c.config.databases).toEqual([{ engine: "redis" }]);
    expect(c.files.map((f) => f.slice(dir.length + 1))).toEqual(["devx.yaml", "infra/db.yaml", "infra/web.yaml"]);
  });

  test("positions in an included file name that file", async () => {
    const dir = project({ "devx.yaml": "include: [sub/x.yaml]\n", "sub/x.yaml": "services:\n  - name: a\n    port: nope\n" });
    expect((await problems(dir))[0]).toStartWith("sub/x.yaml:3:11 services[0].port:");
  });

  test("two includes defining the same service conflict, naming both files", async () => {
    const dir = project({
      "devx.yaml": "include: [a.yaml, b.yaml]\n",
      "a.yaml": "services:\n  - name: api\n    command: a\n",
      "b.yaml": "services:\n  - name: api\n    command: b\n",
    });
    expect(await problems(dir)).toEqual(["b.yaml:2:5 services[api] is defined in both a.yaml:2:5 and here"]);
  });

  test("cycles are detected and the chain named", async () => {
    const dir = project({ "devx.yaml": "include: [a.yaml]\n", "a.yaml": "include: [b.yaml]\n", "b.yaml": "include: [a.yaml]\n" });
    expect(await problems(dir)).toEqual(["b.yaml:1:11 include[0]: include cycle: a.yaml → b.yaml → a.yaml"]);
  });

  test("depth is limited", async () => {
    const files: Record<string, string> = { "devx.yaml": "include: [f0.yaml]\n" };
    for (let i = 0; i < 12; i++) files[`f${i}.yaml`] = `include: [f${i + 1}.yaml]\n`;
    files["f12.yaml"] = "name: deep\n";
    const dir = project(files);
    expect(await problems(dir)).toEqual(["f7.yaml:1:11 include[0]: includes nested deeper than 8 levels"]);
  });

  test("a missing include is a config error at the include entry", async () => {
    const missing = project({ "devx.yaml": "name: x\ninclude:\n  - ok.yaml\n  - nope.yaml\n", "ok.yaml": "env: { A: 1 }\n" });
    expect(await problems(missing)).toEqual(['devx.yaml:4:5 include[1]: "nope.yaml" does not exist']);
  });

  test("a missing root file is not-found (exit 4), not a config error", async () => {
    const dir = project({});
    await expect(loadConfig(join(dir, "devx.yaml"), { cwd: dir })).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe("profiles:", () => {
  const dir = project({
    "devx.yaml": `name: shop
env: { MODE: dev, KEEP: "1" }
services:
  - name: api
    command: ./api
    port: 8080
    env: { A: "1" }
profiles:
  ci:
    env: { MODE: ci }
    services:
      - name: api
        env: { B: "2" }
      - name: e2e
        command: ./e2e
`,
  });

  test("a profile overlays maps key by key and named lists item by item", async () => {
    const c = await loadConfig(join(dir, "devx.yaml"), { cwd: dir, profile: "ci" });
    expect(c.config.env).toEqual({ MODE: "ci", KEEP: "1" });
    expect(c.config.services?.map((s) => s.name)).toEqual(["api", "e2e"]);
    expect(c.config.services?.[0]).toMatchObject({ command: "./api", port: 8080, env: { A: "1", B: "2" } });
  });

  test("an unknown profile suggests the closest", async () => {
    await expect(loadConfig(join(dir, "devx.yaml"), { cwd: dir, profile: "cii" })).rejects.toThrow('profile "cii" is not defined');
  });
});

test("devx.yaml is found by walking up", async () => {
  const dir = project({ "devx.yaml": "name: up\n", "a/b/c/.keep": "" });
  expect(await findConfigFile(join(dir, "a/b/c"))).toBe(join(dir, "devx.yaml"));
});
