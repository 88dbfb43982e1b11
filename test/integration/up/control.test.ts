import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../../src/cli/main.ts";
import { memoryIO } from "../../../src/cli/io.ts";
import { createDeps } from "../../../src/cli/deps.ts";
import { globalOptions } from "../../../src/cli/define.ts";
import * as v from "valibot";
import type { DevxEvent } from "../../../src/events/types.ts";
import { followNodeLog, nodeAction, servicesStatus } from "../../../src/core/up/session.ts";
import { downUp } from "../../../src/core/up/down.ts";
import { freePort, httpd, livingInGroups, webRoot } from "./helpers.ts";

const www = webRoot();
const dir = mkdtempSync(join(tmpdir(), "devx-up-control-"));
afterAll(() => {
  rmSync(www, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

test("the dashboard's functions: servicesStatus, stop/start/restart one node through the control channel, then down from another client", async () => {
  const [p1, p2] = [await freePort(), await freePort()];
  writeFileSync(
    join(dir, "devx.yaml"),
    ["name: ctl", "services:", "  - name: worker", `    command: ${JSON.stringify(httpd(www))}`, `    port: ${p1}`, "  - name: api", `    command: ${JSON.stringify(httpd(www))}`, `    port: ${p2}`, "    depends_on: { worker: { condition: service_healthy } }"].join("\n"),
  );
  let ready!: () => void;
  const isUp = new Promise<void>((r) => (ready = r));
  const events: DevxEvent[] = [];
  const running = main(["up"], { io: memoryIO(), cwd: dir, emit: (e) => (events.push(e), e.type === "step" && e.id === "up" && e.status === "done" && ready()) });
  await isUp;
  const client = createDeps(v.parse(globalOptions, {}), { io: memoryIO(), cwd: dir });

  const st = await servicesStatus(client);
  expect(st.running).toBe(true);
  expect(st.nodes.map((n) => ({ name: n.name, state: n.state, health: n.health, port: n.port, restarts: n.restarts, deps: n.dependsOn.map((d) => d.name) }))).toEqual([
    { name: "worker", state: "healthy", health: "healthy", port: p1, restarts: 0, deps: [] },
    { name: "api", state: "healthy", health: "healthy", port: p2, restarts: 0, deps: ["worker"] },
  ]);
  expect(st.nodes[0]!.uptimeMs).toBeGreaterThanOrEqual(0);
  const firstPid = st.nodes[1]!.pid!;

  expect(await nodeAction(client, "api", "stop")).toMatchObject({ name: "api", state: "stopped" });
  expect(await fetch(`http://127.0.0.1:${p2}/`).then(() => "open", () => "closed")).toBe("closed");
  expect(livingInGroups(new Set([firstPid]))).toEqual([]);
  expect(await nodeAction(client, "api", "start")).toMatchObject({ name: "api", state: "healthy" });
  const restarted = await nodeAction(client, "api", "restart");
  expect(restarted).toMatchObject({ name: "api", state: "healthy" });
  expect(restarted!.pid).not.toBe(firstPid);
  expect((await fetch(`http://127.0.0.1:${p2}/`)).status).toBe(200);
  await expect(nodeAction(client, "nope", "stop")).rejects.toThrow(`no node named "nope" in the running devx up of ctl`);

  // the stored lines include devx's own ("started (pid …) on port …")
  const lines: string[] = [];
  const logCtl = new AbortController();
  await followNodeLog(client, "api", (l) => (lines.push(`${l.stream}: ${l.text}`), logCtl.abort()), logCtl.signal, { tail: 5 }).catch(() => {});
  expect(lines[0]).toMatch(new RegExp(`^devx: started \\(pid \\d+\\) on port ${p2}$`));

  const down = await downUp(client, { dryRun: false });
  expect(down).toMatchObject({ project: "ctl", running: true });
  expect(await running).toBe(0);
  expect((await servicesStatus(client)).running).toBe(false);
  const groups = new Set(events.flatMap((e) => (e.type === "state" && typeof e.detail?.pid === "number" ? [e.detail.pid as number] : [])));
  expect(groups.size).toBe(4);
  expect(livingInGroups(groups)).toEqual([]);
}, 30_000);

test("stopping or restarting the only node on request does not end the run", async () => {
  const solo = mkdtempSync(join(tmpdir(), "devx-up-solo-"));
  const port = await freePort();
  writeFileSync(join(solo, "devx.yaml"), ["name: solo", "services:", "  - name: web", `    command: ${JSON.stringify(httpd(www))}`, `    port: ${port}`].join("\n"));
  let ready!: () => void;
  const isUp = new Promise<void>((r) => (ready = r));
  const running = main(["up"], { io: memoryIO(), cwd: solo, emit: (e) => void (e.type === "step" && e.id === "up" && e.status === "done" && ready()) });
  await isUp;
  const client = createDeps(v.parse(globalOptions, {}), { io: memoryIO(), cwd: solo });
  expect(await nodeAction(client, "web", "restart")).toMatchObject({ name: "web", state: "healthy" });
  expect(await nodeAction(client, "web", "stop")).toMatchObject({ name: "web", state: "stopped" });
  await Bun.sleep(300);
  expect((await servicesStatus(client)).running).toBe(true);
  expect(await nodeAction(client, "web", "start")).toMatchObject({ name: "web", state: "healthy" });
  expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
  await downUp(client, { dryRun: false });
  expect(await running).toBe(0);
  rmSync(solo, { recursive: true, force: true });
}, 30_000);
