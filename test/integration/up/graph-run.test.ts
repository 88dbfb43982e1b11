import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createServer } from "node:net";
import { UnhealthyError } from "../../../src/errors.ts";
import { freePort, httpd, livingInGroups, supervise, webRoot } from "./helpers.ts";

const www = webRoot();
afterAll(() => rmSync(www, { recursive: true, force: true }));

describe("devx up scheduler over host processes", () => {
  test("diamond: each node starts when its own conditions hold (started / healthy / completed successfully)", async () => {
    const [pa, pb, pd] = [await freePort(), await freePort(), await freePort()];
    const { sup, when, pids } = await supervise({
      services: [
        { name: "a", command: httpd(www, 0.4), port: pa, healthcheck: { http: "/" } },
        { name: "b", command: httpd(www), port: pb, depends_on: { a: { condition: "service_healthy" } } },
        { name: "c", command: "sleep 0.1; exit 0", depends_on: { a: { condition: "service_started" } } },
        { name: "d", command: httpd(www), port: pd, depends_on: { b: { condition: "service_healthy" }, c: { condition: "service_completed_successfully" } } },
      ],
    });
    try {
      await sup.up();
      const aHealthy = when("a", "healthy")!;
      // c needed only a started: it ran while a was still sleeping.
      expect(when("c", "starting")!).toBeLessThan(aHealthy);
      expect(when("c", "completed")!).toBeLessThan(aHealthy);
      // b waited for a's health, and started right away once it held.
      expect(when("b", "starting")!).toBeGreaterThanOrEqual(aHealthy);
      expect(when("b", "starting")! - aHealthy).toBeLessThan(50);
      expect(when("d", "starting")!).toBeGreaterThanOrEqual(when("b", "healthy")!);
      expect(Object.fromEntries(sup.status().map((n) => [n.name, n.state]))).toEqual({ a: "healthy", b: "healthy", c: "completed", d: "healthy" });
    } finally {
      await sup.down();
    }
    expect(livingInGroups(pids())).toEqual([]);
  });

  test("chain with a slow dependency: a fast branch does not wait for the slow one; a dependent starts only once its dependency is healthy", async () => {
    const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
    const { sup, when, pids } = await supervise({
      services: [
        { name: "slow", command: httpd(www, 0.6), port: ports[0] },
        { name: "after-slow", command: httpd(www), port: ports[1], depends_on: { slow: { condition: "service_healthy" } } },
        { name: "fast", command: httpd(www), port: ports[2] },
        { name: "after-fast", command: httpd(www), port: ports[3], depends_on: { fast: { condition: "service_healthy" } } },
      ],
    });
    const t0 = performance.now();
    try {
      await sup.up();
      expect(when("after-fast", "healthy")!).toBeLessThan(when("slow", "healthy")!);
      // Ready 600 ms after start (sleep): never reported before; the dependent starts after it.
      // (How fast readiness is noticed is a figure of bench/up.ts, not a timed assertion here.)
      expect(when("slow", "healthy")! - t0).toBeGreaterThanOrEqual(600);
      expect(when("after-slow", "starting")!).toBeGreaterThanOrEqual(when("slow", "healthy")!);
    } finally {
      await sup.down();
    }
    expect(livingInGroups(pids())).toEqual([]);
  });

  test("a failing health check rejects with UnhealthyError naming the check and the last log lines; teardown leaves nothing", async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    const { sup, pids } = await supervise({
      services: [
        { name: "db-ish", command: httpd(www), port: pa },
        { name: "api", command: `echo starting api; echo "listening nowhere" >&2; exec busybox httpd -f -p 127.0.0.1:$PORT -h ${www}/www`, port: pb, healthcheck: { http: "/missing", interval: "100ms", retries: 3 }, depends_on: ["db-ish"] },
      ],
    });
    let err: unknown;
    try {
      await sup.up();
    } catch (e) {
      err = e;
    } finally {
      await sup.down();
    }
    expect(err).toBeInstanceOf(UnhealthyError);
    expect((err as Error).message).toContain(`api did not become healthy within 0.3 s (http 127.0.0.1:${pb}/missing)`);
    expect((err as Error).message).toContain("listening nowhere");
    expect(sup.status().map((n) => n.state)).toEqual(["stopped", "stopped"]);
    expect(pids().size).toBe(2);
    expect(livingInGroups(pids())).toEqual([]);
  });

  test("a busy port is shifted, said aloud, and the shifted port reaches dependents' env and the health check", async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen({ port: 0, host: "127.0.0.1" }, r));
    const port = (busy.address() as { port: number }).port;
    const { sup, events, pids } = await supervise({
      services: [
        { name: "api", command: httpd(www), port, healthcheck: { http: "/" } },
        // an exec check gates readiness on the file the service writes from its env
        { name: "web", command: `echo "web sees $API_URL $API_PORT" > ${www}/web-env; exec sleep 30`, healthcheck: { exec: `test -s ${www}/web-env` }, depends_on: { api: { condition: "service_healthy" } } },
      ],
    });
    try {
      await sup.up();
      const shifted = sup.status().find((n) => n.name === "api")!;
      expect(shifted.port).not.toBe(port);
      expect(shifted.health).toBe("healthy");
      const warn = events.find((x) => x.e.type === "warning")!.e as { message: string };
      expect(warn.message).toBe(`port ${port} for api is busy; using ${shifted.port} instead`);
      expect(readFileSync(join(www, "web-env"), "utf8")).toContain(`web sees http://127.0.0.1:${shifted.port} ${shifted.port}`);
      const res = await fetch(`http://127.0.0.1:${shifted.port}/`);
      expect(res.status).toBe(200);
    } finally {
      await sup.down();
      busy.close();
    }
    expect(livingInGroups(pids())).toEqual([]);
  });

  test("restart on crash: on-failure:N with backoff, then gives up showing the last lines; a flaky one recovers", async () => {
    const flagDir = webRoot();
    const p = await freePort();
    const { sup, events, pids } = await supervise(
      {
        services: [
          { name: "flaky", command: `if [ -f ${flagDir}/crashed ]; then exec busybox httpd -f -p 127.0.0.1:$PORT -h ${www}/www; fi; touch ${flagDir}/crashed; echo "boom once"; exit 2`, port: p, restart: "on-failure" },
        ],
      },
      { backoff: { initialMs: 50, maxMs: 400 } },
    );
    try {
      await sup.up();
      expect(sup.node("flaky")).toMatchObject({ state: "healthy", restarts: 1, exitCode: 2 });
      const w = events.find((x) => x.e.type === "warning")!.e as { message: string };
      expect(w.message).toContain("flaky exited with code 2; restarting in 50 ms");
      expect(w.message).toContain("boom once");
    } finally {
      await sup.down();
      rmSync(flagDir, { recursive: true, force: true });
    }

    const crash = await supervise({ services: [{ name: "crasher", command: "echo boom; exit 3", port: await freePort(), restart: "on-failure:2" }] }, { backoff: { initialMs: 20, maxMs: 100 } });
    const t0 = performance.now();
    let err: unknown;
    await crash.sup.up().catch((e) => (err = e));
    await crash.sup.down();
    expect(err).toBeInstanceOf(UnhealthyError);
    expect((err as Error).message).toContain("crasher exited with code 3");
    expect((err as Error).message).toContain("boom");
    expect(crash.sup.node("crasher")).toMatchObject({ restarts: 2, state: "stopped" });
    // backoff 20 + 40 ms between the three runs
    expect(performance.now() - t0).toBeGreaterThanOrEqual(60);
    expect(crash.events.filter((x) => x.e.type === "state" && x.e.state === "starting")).toHaveLength(3);
    expect(livingInGroups(new Set([...pids(), ...crash.pids()]))).toEqual([]);
  });
});

test("after healthy: retries consecutive failures mark a node unhealthy (said aloud), recovery marks it healthy; restart: always reruns a clean exit", async () => {
  const site = webRoot();
  const p = await freePort();
  const { sup, events } = await supervise(
    {
      services: [
        { name: "web", command: httpd(site), port: p, healthcheck: { http: "/", interval: "50ms", retries: 2 } },
        { name: "ticker", command: "exit 0", restart: "always" },
      ],
    },
    { backoff: { initialMs: 20, maxMs: 40 } },
  );
  const next = (pred: (e: (typeof events)[number]["e"]) => boolean) =>
    new Promise<void>((resolve) => {
      const start = events.length;
      const check = () => (events.slice(start).some((x) => pred(x.e)) ? resolve() : setTimeout(check, 10));
      check();
    });
  try {
    await sup.up();
    const unhealthy = next((e) => e.type === "state" && e.node === "web" && e.state === "unhealthy");
    rmSync(join(site, "www", "index.html"));
    await unhealthy;
    expect(sup.node("web")!.health).toBe("unhealthy");
    expect(events.some((x) => x.e.type === "warning" && x.e.message === `web became unhealthy (http 127.0.0.1:${p}/)`)).toBe(true);
    const healthy = next((e) => e.type === "state" && e.node === "web" && e.state === "healthy");
    writeFileSync(join(site, "www", "index.html"), "back\n");
    await healthy;
    expect(sup.node("web")!.health).toBe("healthy");
    await next((e) => e.type === "state" && e.node === "ticker" && e.state === "starting" && (e.detail?.restarts as number) >= 2);
    expect(sup.node("ticker")!.restarts).toBeGreaterThanOrEqual(2);
  } finally {
    await sup.down();
    rmSync(site, { recursive: true, force: true });
  }
});
