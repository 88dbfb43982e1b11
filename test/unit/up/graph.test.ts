import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { buildGraph, findCycle, parseRestart } from "../../../src/core/up/graph.ts";
import { loadConfig, ConfigErrors } from "../../../src/config/load.ts";
import { configSchema, type DevxConfig } from "../../../src/config/schema.ts";
import { ConfigError, NotFoundError } from "../../../src/errors.ts";

const cfg = (x: unknown): DevxConfig => v.parse(configSchema, x);
const svc = (name: string, extra: Record<string, unknown> = {}) => ({ name, command: "true", ...extra });

/** Every problem of the thrown ConfigErrors, one per line. */
function configError(f: () => unknown): { message: string; hint: string } {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigErrors);
    return { message: (e as ConfigErrors).problems.join("\n"), hint: (e as ConfigError).hint };
  }
  throw new Error("expected a ConfigError");
}

describe("graph validation", () => {
  test("names the cycle as a closed path", () => {
    const e = configError(() => buildGraph(cfg({ services: [svc("api", { depends_on: ["worker"] }), svc("worker", { depends_on: ["queue"] }), svc("queue", { depends_on: ["api"] })] })));
    expect(e.message).toContain("dependency cycle: api → worker → queue → api");
    expect(e.hint).toContain("devx config validate");
  });

  test("unknown dependency with a suggestion", () => {
    const e = configError(() => buildGraph(cfg({ services: [svc("api", { depends_on: ["wroker"] }), svc("worker")] })));
    expect(e.message).toContain('depends on "wroker", which is not defined (did you mean "worker"?)');
  });

  test("duplicate names across databases and services, port clashes, self-dependency, missing command", () => {
    const e = configError(() =>
      buildGraph(
        cfg({
          databases: [{ engine: "redis" }],
          services: [svc("redis"), svc("a", { port: 8080 }), svc("b", { port: 8080 }), svc("c", { depends_on: ["c"] }), { name: "d" }, svc("e", { restart: "always" }), svc("f", { depends_on: { e: { condition: "service_completed_successfully" } } })],
        }),
      ),
    );
    expect(e.message).toContain('duplicate name "redis"');
    expect(e.message).toContain('port 8080 is configured for both "a" and "b"');
    expect(e.message).toContain('service "c" depends on itself');
    expect(e.message).toContain('service "d" runs on the host but has no command');
    expect(e.message).toContain('service "f" waits for "e" to complete, but e has restart: always and never completes');
  });

  test("an intercept node delivers to another node's port (no clash), but must name the Service port", () => {
    const bridge = (extra: Record<string, unknown>) => ({ name: "api", runtime: "bridge", bridge: { mode: "intercept", service: "api", ...extra }, depends_on: ["app"] });
    const g = buildGraph(cfg({ services: [svc("app", { port: 7300 }), bridge({ port: 80, local_port: 7300 })] }));
    expect(g.nodes.get("api")!.port).toBe(7300);
    expect(g.nodes.get("api")!.healthcheck).toBeUndefined();
    // a connect node binds its local port, so the same port twice is still a clash
    const clash = configError(() => buildGraph(cfg({ services: [svc("app", { port: 7300 }), { name: "db", runtime: "bridge", bridge: { mode: "connect", service: "db", local_port: 7300 } }] })));
    expect(clash.message).toContain('port 7300 is configured for both "app" and "db"');
    const e = configError(() => buildGraph(cfg({ services: [svc("app", { port: 7300 }), bridge({ local_port: 7300 })] })));
    expect(e.message).toContain('service "api" delivers to local port 7300 but names no Service port: set bridge.port');
  });

  test("each problem leads with the position of what it is about, in whichever file defines it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "devx-graph-"));
    writeFileSync(join(dir, "devx.yaml"), "include: [more.yaml]\nservices:\n  - name: api\n    command: x\n    depends_on: [nope]\nprofiles:\n  ci:\n    services:\n      - name: e2e\n        command: x\n        depends_on: [ap]\n");
    writeFileSync(join(dir, "more.yaml"), "services:\n  - name: worker\n    command: x\n    port: 7000\n  - name: other\n    command: x\n    port: 7000\n");
    const loaded = await loadConfig(join(dir, "devx.yaml"), { cwd: dir, profile: "ci" });
    expect(configError(() => buildGraph(loaded.config, { locate: loaded.locate })).message.split("\n")).toEqual([
      'devx.yaml:5:5 service "api" depends on "nope", which is not defined',
      'devx.yaml:11:9 service "e2e" depends on "ap", which is not defined (did you mean "api"?)',
      'more.yaml:7:5 port 7000 is configured for both "worker" and "other"',
    ]);
  });

  test("levels, default tcp check for a node with a port, restart policies, selection keeps dependencies", () => {
    const g = buildGraph(
      cfg({
        databases: [{ engine: "postgres" }],
        services: [
          svc("api", { port: 3000, depends_on: { worker: { condition: "service_healthy" }, postgres: { condition: "service_started" } } }),
          svc("worker", { restart: "on-failure:3" }),
          svc("docs"),
        ],
      }),
    );
    expect(g.levels).toEqual([["postgres", "worker", "docs"], ["api"]]);
    expect(g.nodes.get("api")!.healthcheck).toEqual({ tcp: true });
    expect(g.nodes.get("worker")!.healthcheck).toBeUndefined();
    expect(g.nodes.get("postgres")!.port).toBe(5432);
    expect(g.nodes.get("worker")!.restart).toEqual({ policy: "on-failure", max: 3 });
    expect(parseRestart("on-failure")).toEqual({ policy: "on-failure", max: undefined });
    expect(parseRestart("always")).toEqual({ policy: "always" });

    const only = buildGraph(cfg({ services: [svc("api", { depends_on: ["worker"] }), svc("worker"), svc("docs")] }), { only: ["api"] });
    expect([...only.nodes.keys()].sort()).toEqual(["api", "worker"]);
    expect(() => buildGraph(cfg({ services: [svc("api")] }), { only: ["apj"] })).toThrow(NotFoundError);
  });

  test("findCycle is undefined for a diamond", () => {
    const g = buildGraph(cfg({ services: [svc("a"), svc("b", { depends_on: ["a"] }), svc("c", { depends_on: ["a"] }), svc("d", { depends_on: ["b", "c"] })] }));
    expect(findCycle(g.nodes)).toBeUndefined();
    expect(g.levels).toEqual([["a"], ["b", "c"], ["d"]]);
  });
});

test("tunnels become nodes after the service they expose; unknown service and missing port are errors", () => {
  const g = buildGraph(cfg({ services: [svc("web", { port: 3000 })], tunnels: [{ name: "web", service: "web" }, { name: "raw", port: 9000 }] }));
  expect(g.nodes.get("tunnel/web")).toMatchObject({ kind: "tunnel", runtime: "tunnel", deps: [{ name: "web", condition: "service_healthy" }], portFrom: "web" });
  expect(g.nodes.get("tunnel/raw")).toMatchObject({ deps: [], portFrom: undefined });
  expect(g.levels).toEqual([["web", "tunnel/raw"], ["tunnel/web"]]);
  const e = configError(() => buildGraph(cfg({ services: [svc("web"), svc("api", { port: 1 })], tunnels: [{ name: "a", service: "wbe" }, { name: "b", service: "web" }] })));
  expect(e.message).toContain('tunnel "a" exposes "wbe", which is not defined (did you mean "web"?)');
  expect(e.message).toContain('tunnel "b" has no port: set port, or a service that has one');
});
