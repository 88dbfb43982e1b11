import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../../src/cli/main.ts";
import { memoryIO } from "../../../src/cli/io.ts";

const root = mkdtempSync(join(tmpdir(), "devx-validate-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function both(name: string, yaml: string) {
  const dir = mkdtempSync(join(root, `${name}-`));
  writeFileSync(join(dir, "devx.yaml"), yaml);
  const v = memoryIO();
  const vcode = await main(["config", "validate", "--json"], { io: v, cwd: dir });
  const u = memoryIO();
  const ucode = await main(["up", "--dry-run"], { io: u, cwd: dir });
  return { vcode, problems: (JSON.parse(v.stdout()) as { problems?: string[] }).problems ?? [], ucode, upError: u.stderr() };
}

test("config validate rejects what up rejects (unknown depends_on, duplicate names, port clashes), every problem positioned", async () => {
  const r = await both(
    "graph",
    ["services:", "  - name: api", "    command: x", "    port: 7100", "    depends_on: [wroker]", "  - name: worker", "    command: x", "    port: 7100", "  - name: api", "    command: y"].join("\n") + "\n",
  );
  expect(r.vcode).toBe(3);
  expect(r.problems).toEqual([
    'devx.yaml:9:5 duplicate name "api": every service and database needs its own name',
    'devx.yaml:5:5 service "api" depends on "wroker", which is not defined (did you mean "worker"?)',
    'devx.yaml:8:5 port 7100 is configured for both "api" and "worker"',
  ]);
  expect(r.ucode).toBe(3);
  expect(r.upError).toStartWith(`error: ${r.problems[0]}\n  hint: 2 more problems: \`devx config validate\` lists them all`);
});

test("a dependency cycle is a validate error too, positioned at the depends_on that closes it", async () => {
  const r = await both("cycle", ["services:", "  - name: api", "    command: x", "    depends_on: [worker]", "  - name: worker", "    command: x", "    depends_on: [api]"].join("\n") + "\n");
  expect(r.vcode).toBe(3);
  expect(r.problems).toEqual(["devx.yaml:4:5 dependency cycle: api → worker → api"]);
  expect(r.ucode).toBe(3);
  expect(r.upError).toContain("error: devx.yaml:4:5 dependency cycle: api → worker → api");
});

test("a config up accepts is valid", async () => {
  const r = await both("ok", ["services:", "  - name: api", "    command: x", "    depends_on: [worker]", "  - name: worker", "    command: x"].join("\n") + "\n");
  expect(r.vcode).toBe(0);
  expect(r.ucode).toBe(0);
});
