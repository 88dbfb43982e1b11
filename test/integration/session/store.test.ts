import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import type { SessionRecord } from "../../../src/core/session/model.ts";
import { RedisStore } from "../../../src/core/session/store/redis.ts";
import { SqliteStore } from "../../../src/core/session/store/sqlite.ts";
import type { SessionStore } from "../../../src/core/session/store/types.ts";
import { ConflictError } from "../../../src/errors.ts";
import { testWith } from "../../support/require.ts";
import { redisAvailable, startRedis, type RedisServer } from "../../support/redis-server.ts";

/**
 * One contract, two stores: the embedded SQLite file and a real redis-server shared by several
 * control planes. Each runs the same checks: compare-and-set transitions, leases, rate-limit
 * windows, and two writers racing on one session.
 */
const session = (id: string, version = 1): SessionRecord => ({
  id, owner: "ana", template: "base", image: "img", state: "creating", created: "t", updated: "t", secret: "ab".repeat(32),
  limits: { cpus: 1, memoryMiB: 512, pids: 256 }, egress: true, idleMinutes: 30, maxHours: 12, workspace: { prefix: `s/${id}` }, publicPorts: [], version,
});

function contract(name: string, open: () => Promise<SessionStore>) {
  describe(name, () => {
    let store: SessionStore;
    beforeAll(async () => (store = await open()));
    afterAll(async () => store?.close());

    test("sessions: create once, read, list, compare-and-set, delete", async () => {
      await store.createSession(session("s-one"));
      await expect(store.createSession(session("s-one"))).rejects.toThrow(ConflictError);
      expect((await store.getSession("s-one"))?.state).toBe("creating");
      // two writers read version 1; the first to write wins, the second is told
      const a = { ...(await store.getSession("s-one"))!, state: "starting" as const, version: 2 };
      const b = { ...(await store.getSession("s-one"))!, state: "failed" as const, version: 2 };
      const results = await Promise.all([store.replaceSession(a), store.replaceSession(b)]);
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(["starting", "failed"]).toContain((await store.getSession("s-one"))!.state);
      expect(await store.replaceSession({ ...a, version: 2 })).toBe(false);
      await store.createSession(session("s-two"));
      expect((await store.listSessions()).map((s) => s.id)).toEqual(["s-one", "s-two"]);
      await store.deleteSession("s-one");
      expect(await store.getSession("s-one")).toBeUndefined();
      expect((await store.listSessions()).map((s) => s.id)).toEqual(["s-two"]);
    });

    test("many concurrent transitions: every version written exactly once", async () => {
      await store.createSession(session("s-race"));
      const bump = async () => {
        for (;;) {
          const cur = (await store.getSession("s-race"))!;
          if (await store.replaceSession({ ...cur, version: cur.version + 1, detail: String(cur.version + 1) })) return;
        }
      };
      await Promise.all(Array.from({ length: 20 }, bump));
      const end = (await store.getSession("s-race"))!;
      expect(end.version).toBe(21);
      expect(end.detail).toBe("21");
    });

    test("tokens and templates round-trip", async () => {
      await store.putToken({ id: "abc", hash: "h", owner: "ana", scopes: ["sessions:read"], created: "t" });
      expect((await store.getToken("abc"))?.owner).toBe("ana");
      expect((await store.listTokens()).map((t) => t.id)).toContain("abc");
      await store.putTemplate({ name: "node", image: "img", created: "t" });
      expect((await store.listTemplates()).map((t) => t.name)).toEqual(["node"]);
      await store.deleteTemplate("node");
      expect(await store.getTemplate("node")).toBeUndefined();
    });

    test("a lease has one holder until it expires or is released; the holder renews it", async () => {
      expect(await store.acquireLease("push:s", "cp-1", 300)).toBe(true);
      expect(await store.acquireLease("push:s", "cp-2", 300)).toBe(false);
      expect(await store.acquireLease("push:s", "cp-1", 300)).toBe(true);
      await store.releaseLease("push:s", "cp-2");
      expect(await store.acquireLease("push:s", "cp-2", 300)).toBe(false);
      await store.releaseLease("push:s", "cp-1");
      expect(await store.acquireLease("push:s", "cp-2", 100)).toBe(true);
      await Bun.sleep(150);
      expect(await store.acquireLease("push:s", "cp-1", 100)).toBe(true);
    });

    test("hits count per fixed window", async () => {
      const w = 60_000;
      const counts = [];
      for (let i = 0; i < 5; i++) counts.push(await store.hit("login:127.0.0.1", w));
      expect(counts).toEqual([1, 2, 3, 4, 5]);
      expect(await store.hit("login:10.0.0.2", w)).toBe(1);
    });
  });
}

contract("SQLite store", async () => new SqliteStore(join(mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "store-")), "sessions.db")));

let redis: RedisServer | undefined;
const rtest = testWith("redis", redisAvailable());
if (redisAvailable()) {
  contract("Redis store (real redis-server)", async () => {
    redis = await startRedis();
    return new RedisStore(redis.url, `devx-test-${process.pid}`);
  });
  afterAll(async () => redis?.stop());
} else {
  rtest("Redis store (real redis-server)", () => {});
}
