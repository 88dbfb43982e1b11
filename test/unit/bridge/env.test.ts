import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { bridgeEnvPath, readBridgeEnv, schemeFor, updateBridgeEnv } from "../../../src/core/bridge/env.ts";
import { envPrefix } from "../../../src/core/bridge/settings.ts";
import { writeSession } from "../../../src/platform/sessions.ts";

describe("bridge env file", () => {
  test("variables of a forward whose process died are dropped (from the answer and the file); live ones stay", async () => {
    const state = mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "env-"));
    await updateBridgeEnv(state, { BRIDGE_API_PORT: "8080", BRIDGE_DB_PORT: "5432" });
    await writeSession(state, "bridge", "live", { mode: "connect", env: { BRIDGE_API_PORT: "8080" } });
    await writeSession(state, "bridge", "dead", { mode: "connect", env: { BRIDGE_DB_PORT: "5432" } }, 2 ** 22 + 12345);
    expect(await readBridgeEnv({ paths: { state } })).toEqual({ BRIDGE_API_PORT: "8080" });
    expect(readFileSync(bridgeEnvPath(state), "utf8")).toBe("BRIDGE_API_PORT=8080\n");
  });

  test("names and schemes", () => {
    expect(envPrefix("catalog-api.v2")).toBe("BRIDGE_CATALOG_API_V2");
    expect(schemeFor({ name: "http", port: 80 })).toBe("http");
    expect(schemeFor({ name: "pg", port: 5432 })).toBe("postgres");
    expect(schemeFor({ appProtocol: "kubernetes.io/h2c", name: "grpc", port: 9000 })).toBe("grpc");
    expect(schemeFor({ port: 9999 })).toBe("tcp");
  });
});
