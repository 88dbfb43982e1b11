import { afterAll, expect } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../../src/cli/main.ts";
import { memoryIO } from "../../../src/cli/io.ts";
import type { DevxEvent } from "../../../src/events/types.ts";
import { testWith } from "../../support/require.ts";
import { ensureBusyboxImage, podmanAvailable } from "../../support/images.ts";
import { freePort, livingInGroups } from "./helpers.ts";

const podman = podmanAvailable();
const dir = mkdtempSync(join(tmpdir(), "devx-up-ct-"));
const project = `upct-${process.pid}-${Date.now() % 100000}`;
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  if (podman) Bun.spawnSync(["podman", "rm", "-f", "--filter", `label=devx.project=${project}`], { stdout: "ignore", stderr: "ignore" });
}, 60_000);

const containersOf = (p: string) =>
  Bun.spawnSync(["podman", "ps", "-a", "--filter", `label=devx.project=${p}`, "--format", "{{.Names}} {{.Labels}}"], { stdout: "pipe" }).stdout.toString().trim();

testWith("podman", podman)("a container node (real podman) on 127.0.0.1 with devx labels, healthy, feeding a host dependent; Ctrl-C removes it", async () => {
  const image = ensureBusyboxImage();
  const port = await freePort();
  writeFileSync(
    join(dir, "devx.yaml"),
    [
      `name: ${project}`,
      "services:",
      "  - name: web",
      "    runtime: container",
      `    image: ${image}`,
      '    command: ["httpd", "-f", "-v", "-p", "8080", "-h", "/www"]',
      `    port: ${port}`,
      "    container_port: 8080",
      "    stop_grace_period: 2s",
      "  - name: api",
      `    command: echo "$WEB_URL" > ${dir}/api-env; exec sleep 300`,
      `    healthcheck: { exec: "test -s ${dir}/api-env" }`,
      "    depends_on: { web: { condition: service_healthy } }",
    ].join("\n"),
  );
  const ctl = new AbortController();
  const events: DevxEvent[] = [];
  let during = "";
  const emit = (e: DevxEvent) => {
    events.push(e);
    if (e.type === "step" && e.id === "up" && e.status === "done") {
      during = containersOf(project);
      ctl.abort(new DOMException("cancelled", "AbortError"));
    }
  };
  const io = memoryIO();
  const code = await main(["up"], { io, emit, signal: ctl.signal, cwd: dir });
  expect(io.stderr()).toBe("");
  expect(code).toBe(130);
  expect(during).toContain(`devx-${project}-web`);
  expect(during).toContain("devx.managed:true");
  expect(during).toContain("devx.kind:service");
  expect(readFileSync(join(dir, "api-env"), "utf8")).toBe(`http://127.0.0.1:${port}\n`);
  expect(events.some((e) => e.type === "state" && e.node === "web" && e.state === "healthy")).toBe(true);
  expect(containersOf(project)).toBe("");
  const groups = new Set(events.flatMap((e) => (e.type === "state" && typeof e.detail?.pid === "number" ? [e.detail.pid as number] : [])));
  expect(livingInGroups(groups)).toEqual([]);
}, 90_000);
