import { expect, test } from "bun:test";
import { resolveProvider, resolveRelay, resolveProfile, resolveVmName } from "../../../src/config/settings.ts";

test("precedence is flag > env > project > user > default", () => {
  const all = { flags: { provider: "lima" }, env: { DEVX_PROVIDER: "colima" }, project: { provider: "podman" as const }, user: { provider: "docker" as const } };
  expect(resolveProvider(all)).toEqual({ value: "lima", from: "flag" });
  expect(resolveProvider({ ...all, flags: {} })).toEqual({ value: "colima", from: "env" });
  expect(resolveProvider({ ...all, flags: {}, env: {} })).toEqual({ value: "podman", from: "project" });
  expect(resolveProvider({ ...all, flags: {}, env: {}, project: {} })).toEqual({ value: "docker", from: "user" });
  expect(resolveProvider({ flags: {}, env: {}, user: {} })).toEqual({ value: "auto", from: "default" });
});

test("vm.provider in devx.yaml is more specific than top-level provider", () => {
  expect(resolveProvider({ flags: {}, env: {}, project: { provider: "podman", vm: { provider: "lima" } }, user: {} }).value).toBe("lima");
});

test("relay, profile and VM name follow the same order", () => {
  expect(resolveRelay({ flags: {}, env: {}, project: { state: { relay: "s3://team/x" } }, user: { relay: "file:///mnt/share" } })).toEqual({ value: "s3://team/x", from: "project" });
  expect(resolveRelay({ flags: { relay: "gs://b/p" }, env: { DEVX_RELAY: "s3://e/p" }, user: {} }).value).toBe("gs://b/p");
  expect(resolveProfile({ flags: {}, env: { DEVX_PROFILE: "ci" }, user: { profile: "dev" } })).toEqual({ value: "ci", from: "env" });
  expect(resolveVmName({ flags: {}, env: {}, user: {} })).toEqual({ value: "devx", from: "default" });
});
