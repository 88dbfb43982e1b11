import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../../src/cli/main.ts";
import { memoryIO } from "../../../src/cli/io.ts";
import type { DevxEvent } from "../../../src/events/types.ts";
import { freePort, httpd, livingInGroups, webRoot } from "./helpers.ts";

const www = webRoot();
const dir = mkdtempSync(join(tmpdir(), "devx-up-ctrlc-"));
afterAll(() => {
  rmSync(www, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

test("Ctrl-C stops everything in reverse order: SIGTERM to each process group, SIGKILL after the grace period; nothing is left", async () => {
  const [p1, p2] = [await freePort(), await freePort()];
  writeFileSync(
    join(dir, "devx.yaml"),
    [
      "name: ctrlc",
      "services:",
      "  - name: base",
      `    command: ${JSON.stringify(httpd(www))}`,
      `    port: ${p1}`,
      "  - name: spawner", // leaves children of its own in its group
      `    command: "sleep 300 & sleep 301 & exec busybox httpd -f -p 127.0.0.1:$PORT -h ${www}/www"`,
      `    port: ${p2}`,
      "    depends_on: { base: { condition: service_healthy } }",
      "  - name: stubborn", // ignores SIGTERM: needs the SIGKILL after stop_grace_period
      `    command: "trap '' TERM; touch ${dir}/trapped; while :; do sleep 0.05; done"`,
      `    healthcheck: { exec: "test -f ${dir}/trapped" }`,
      "    stop_grace_period: 300ms",
      "    depends_on: [spawner]",
    ].join("\n"),
  );
  const ctl = new AbortController();
  const events: Array<{ at: number; e: DevxEvent }> = [];
  const io = memoryIO();
  const emit = (e: DevxEvent) => {
    events.push({ at: performance.now(), e });
    if (e.type === "step" && e.id === "up" && e.status === "done") ctl.abort(new DOMException("cancelled", "AbortError"));
  };
  const code = await main(["up"], { io, emit, signal: ctl.signal, cwd: dir });
  expect(code).toBe(130);
  const at = (node: string, state: string) => events.find((x) => x.e.type === "state" && x.e.node === node && x.e.state === state)!.at;
  // reverse dependency order: stubborn before spawner before base
  expect(at("stubborn", "stopped")).toBeLessThanOrEqual(at("spawner", "stopping"));
  expect(at("spawner", "stopped")).toBeLessThanOrEqual(at("base", "stopping"));
  // stubborn needed the SIGKILL after its 300 ms grace period
  expect(at("stubborn", "stopped") - at("stubborn", "stopping")).toBeGreaterThanOrEqual(290);
  const groups = new Set(events.flatMap((x) => (x.e.type === "state" && typeof x.e.detail?.pid === "number" ? [x.e.detail.pid as number] : [])));
  expect(groups.size).toBe(3);
  expect(livingInGroups(groups)).toEqual([]);
  // the session record is gone: nothing claims to be running
  const sessions = join(process.env.DEVX_HOME!, "state", "sessions", "up");
  expect(existsSync(sessions) ? readdirSync(sessions) : []).toEqual([]);
});

test("a failing health check through the command: exit code 12, hint, nothing left running", async () => {
  const p = await freePort();
  const d = mkdtempSync(join(dir, "fail-"));
  writeFileSync(
    join(d, "devx.yaml"),
    ["services:", "  - name: other", "    command: exec sleep 300", "  - name: api", `    command: ${JSON.stringify(httpd(www))}`, `    port: ${p}`, "    healthcheck: { http: /nope, interval: 50ms, retries: 2 }"].join("\n"),
  );
  const events: DevxEvent[] = [];
  const io = memoryIO();
  const code = await main(["up"], { io, emit: (e) => void events.push(e), cwd: d });
  expect(code).toBe(12);
  expect(io.stderr()).toContain(`error: api did not become healthy within 0.1 s (http 127.0.0.1:${p}/nope)`);
  expect(io.stderr()).toContain("hint: check `devx logs api`");
  const groups = new Set(events.flatMap((e) => (e.type === "state" && typeof e.detail?.pid === "number" ? [e.detail.pid as number] : [])));
  expect(groups.size).toBe(2);
  expect(livingInGroups(groups)).toEqual([]);
});
