import { afterAll, describe, expect, test } from "bun:test";
import { ControlPlaneClient } from "../../../src/core/session/client.ts";
import { ProviderError } from "../../../src/errors.ts";

/**
 * The control plane is a network peer: what it answers is checked before the CLI prints or uses it.
 * A stand-in server on 127.0.0.1 answers whatever each test sets.
 */
let answer: unknown = {};
const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => Response.json(answer) });
afterAll(() => server.stop(true));
const client = new ControlPlaneClient(`http://127.0.0.1:${server.port}`, "dxt_test_secret");

const good = { id: "repl-abc", owner: "alice", template: "default", image: "localhost/devx-session:1", state: "running", created: "2026-12-02T10:00:00.000Z", updated: "2026-12-02T10:00:01.000Z", running: true, limits: { cpus: 2, memoryMiB: 2048, pids: 1024 }, egress: true, idleMinutes: 30, maxHours: 12, workspace: { prefix: "sessions-repl-abc" } };

describe("control plane answers", () => {
  test("a valid session passes, with the fields this client does not know kept (for --json)", async () => {
    answer = { session: good };
    expect(await client.get("repl-abc")).toEqual(good);
    answer = { sessions: [good] };
    expect(await client.list()).toEqual([good]);
  });

  test.each([
    ["a terminal escape in a field", { session: { ...good, owner: "alice\x1b]0;pwned\x07" } }],
    ["an id that is a path", { session: { ...good, id: "../tokens" } }],
    ["a missing field", { session: { ...good, state: undefined } }],
    ["a wrong type", { session: { ...good, running: "yes" } }],
    ["a list that is not one", { sessions: { 0: good } }],
    ["nothing at all", {}],
  ])("refused: %s", async (_what, body) => {
    answer = body;
    const call = "sessions" in body || Object.keys(body).length === 0 ? client.list() : client.get("repl-abc");
    await expect(call).rejects.toBeInstanceOf(ProviderError);
  });

  test("an error's text may span lines, but carries no escapes", async () => {
    answer = { session: { ...good, detail: "could not start:\npodman said no" } };
    expect((await client.get("repl-abc")).detail).toBe("could not start:\npodman said no");
    answer = { session: { ...good, detail: "x\x1b[2J" } };
    await expect(client.get("repl-abc")).rejects.toBeInstanceOf(ProviderError);
  });

  test("a runner token that is not token characters is refused before it reaches a header", async () => {
    answer = { token: "dxs1.abc\r\nX-Injected: 1" };
    await expect(client.runnerToken("repl-abc", ["exec"])).rejects.toBeInstanceOf(ProviderError);
    answer = { token: "dxs1.eyJzaWQiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ" };
    expect(await client.runnerToken("repl-abc", ["exec"])).toBe("dxs1.eyJzaWQiOiJ4In0.c2lnbmF0dXJlLXNpZ25hdHVyZQ");
  });
});
