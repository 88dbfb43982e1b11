import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../../src/cli/main.ts";
import { memoryIO } from "../../../src/cli/io.ts";
import { freePort } from "./helpers.ts";

const dir = mkdtempSync(join(tmpdir(), "devx-up-plan-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("--dry-run prints the plan: order, resolved (shifted) ports, env with secrets masked; nothing starts", async () => {
  const busy = createServer();
  await new Promise<void>((r) => busy.listen({ port: 0, host: "127.0.0.1" }, r));
  const taken = (busy.address() as { port: number }).port;
  const other = await freePort();
  writeFileSync(
    join(dir, "devx.yaml"),
    [
      "name: plan",
      "env: { API_TOKEN: abc123, UPSTREAM: 'https://bob:hunter2@example.test/x' }",
      "services:",
      "  - name: api",
      "    command: exec false",
      `    port: ${taken}`,
      "    healthcheck: { http: /health }",
      "  - name: web",
      "    command: exec false",
      `    port: ${other}`,
      "    env: { SESSION_SECRET: s3cr3t }",
      "    depends_on: { api: { condition: service_healthy } }",
    ].join("\n"),
  );
  try {
    const io = memoryIO();
    const code = await main(["up", "--dry-run", "--json"], { io, cwd: dir });
    expect(code).toBe(0);
    const { plan } = JSON.parse(io.stdout());
    expect(plan.order).toEqual(["api", "web"]);
    const api = plan.nodes[0];
    expect(api.configuredPort).toBe(taken);
    expect(api.port).not.toBe(taken);
    expect(api.healthcheck).toBe(`http 127.0.0.1:${api.port}/health`);
    expect(plan.nodes[1].env).toEqual({
      API_TOKEN: "****",
      UPSTREAM: "https://bob:****@example.test/x",
      API_URL: `http://127.0.0.1:${api.port}`,
      API_HOST: "127.0.0.1",
      API_PORT: String(api.port),
      SESSION_SECRET: "****",
      PORT: String(other),
    });
    expect(io.stdout()).not.toContain("s3cr3t");
    expect(io.stdout()).not.toContain("hunter2");
    const text = memoryIO();
    expect(await main(["up", "--dry-run"], { io: text, cwd: dir })).toBe(0);
    expect(text.stdout()).toContain(`api [host] port ${api.port} (configured ${taken} is busy)`);
  } finally {
    busy.close();
  }
});

test("validation errors exit 3 before anything starts, naming the cycle with its position", async () => {
  const d = mkdtempSync(join(dir, "cycle-"));
  writeFileSync(join(d, "devx.yaml"), ["services:", "  - name: api", "    command: x", "    depends_on: [worker]", "  - name: worker", "    command: x", "    depends_on: [api]"].join("\n"));
  const io = memoryIO();
  expect(await main(["up"], { io, cwd: d })).toBe(3);
  expect(io.stderr()).toContain("error: devx.yaml:4:5 dependency cycle: api → worker → api");
});
