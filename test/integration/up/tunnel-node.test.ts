import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { main } from "../../../src/cli/main.ts";
import { memoryIO } from "../../../src/cli/io.ts";
import { createDeps } from "../../../src/cli/deps.ts";
import { globalOptions } from "../../../src/cli/define.ts";
import { cloudflareSetup, ensureVmTunnel } from "../../../src/core/tunnel/setup.ts";
import type { DevxEvent } from "../../../src/events/types.ts";
import { startFakeCloudflare } from "../../support/fake-cloudflare.ts";
import { httpd, webRoot } from "./helpers.ts";

const www = webRoot();
const dir = mkdtempSync(join(tmpdir(), "devx-up-tunnel-"));
afterAll(() => {
  rmSync(www, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

test("a tunnel node (Cloudflare API fake) exposes its service's resolved (shifted) port once healthy, and is unexposed on stop", async () => {
  await using cf = await startFakeCloudflare();
  const busy = createServer();
  await new Promise<void>((r) => busy.listen({ port: 0, host: "127.0.0.1" }, r));
  const taken = (busy.address() as { port: number }).port;
  writeFileSync(
    join(dir, "devx.yaml"),
    [
      "name: uptunnel",
      `vm: { name: devx, provider: podman, cloudflare: { account_id: ${cf.accountId}, zone: ${cf.zone.name}, api_token: "env:CF_TOKEN_FOR_DEVX" } }`,
      "services:",
      "  - name: web",
      `    command: ${JSON.stringify(httpd(www))}`,
      `    port: ${taken}`,
      "tunnels:",
      "  - name: web",
      "    service: web",
    ].join("\n"),
  );
  const env = { ...process.env, CF_TOKEN_FOR_DEVX: cf.token, DEVX_CLOUDFLARE_API: cf.url, USER: "dev" };
  const setupDeps = createDeps(v.parse(globalOptions, {}), { io: memoryIO(), cwd: dir, env });
  const { tunnel } = await ensureVmTunnel(await cloudflareSetup(setupDeps));

  const ctl = new AbortController();
  const events: DevxEvent[] = [];
  let ingressWhileUp: unknown;
  const emit = (e: DevxEvent) => {
    events.push(e);
    if (e.type === "step" && e.id === "up" && e.status === "done") {
      ingressWhileUp = cf.configs.get(tunnel.id)?.config.ingress;
      ctl.abort(new DOMException("cancelled", "AbortError"));
    }
  };
  try {
    const io = memoryIO();
    const code = await main(["up"], { io, emit, signal: ctl.signal, cwd: dir, env });
    expect(io.stderr()).toBe("");
    expect(code).toBe(130);
  } finally {
    busy.close();
  }
  const shifted = events.find((e) => e.type === "warning")! as { message: string };
  const port = Number(/using (\d+)/.exec(shifted.message)![1]);
  expect(port).not.toBe(taken);
  expect(ingressWhileUp).toEqual([{ hostname: "web.example.dev", service: `http://localhost:${port}` }, { service: "http_status:404" }]);
  const at = (node: string, state: string) => events.findIndex((e) => e.type === "state" && e.node === node && e.state === state);
  expect(at("tunnel/web", "starting")).toBeGreaterThan(at("web", "healthy"));
  expect(at("tunnel/web", "stopped")).toBeLessThan(at("web", "stopping"));
  expect(cf.configs.get(tunnel.id)?.config.ingress).toEqual([{ service: "http_status:404" }]);
  expect(cf.records.size).toBe(0);
});
