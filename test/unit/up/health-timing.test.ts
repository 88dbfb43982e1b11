import { expect, test } from "bun:test";
import { DEFAULT_TIMING, EXEC_TIMEOUT_MS, timingOf } from "../../../src/core/up/health.ts";

test("an exec check gets time to start a process on a busy machine; http and tcp stay quick; a set timeout wins", () => {
  expect(timingOf({ exec: "redis-cli ping" }).timeoutMs).toBe(EXEC_TIMEOUT_MS);
  expect(EXEC_TIMEOUT_MS).toBeGreaterThanOrEqual(5000);
  expect(timingOf({ http: "/health" }).timeoutMs).toBe(DEFAULT_TIMING.timeoutMs);
  expect(timingOf({ tcp: true }).timeoutMs).toBe(DEFAULT_TIMING.timeoutMs);
  expect(timingOf({ exec: ["true"], timeout: "2s" }).timeoutMs).toBe(2000);
});
