import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readCheckpointSettings, rewriteConfig, rewriteSpec } from "../../../src/core/state/guard/checkpoint-settings.ts";
import { IntegrityError } from "../../../src/errors.ts";

/**
 * config.dump and spec.dump as podman 4.3 wrote them here (recorded from `podman container
 * checkpoint --export` of a default container and of one run with `--privileged --cap-add ALL
 * -v /tmp/hostdir:/host -p 0.0.0.0:18080:80`), and hostile edits of them.
 */
type Json = Record<string, any>;
const fixture = (name: string): Json => JSON.parse(readFileSync(join(import.meta.dir, "fixtures", "podman-4.3", name), "utf8"));
const dflt = () => ({ config: fixture("default.config.dump.json"), spec: fixture("default.spec.dump.json") });
const priv = () => ({ config: fixture("privileged.config.dump.json"), spec: fixture("privileged.spec.dump.json") });

test("a default container asks for nothing beyond itself; its name, image, volumes and ports are read", () => {
  const { config, spec } = dflt();
  const s = readCheckpointSettings("ck2", config, spec);
  expect(s.elevations).toEqual([]);
  expect(s).toMatchObject({ name: "ck2", image: "localhost/devx-test-busybox:1", namedVolumes: [{ name: "t1", dest: "/data" }], ports: [{ hostIp: "127.0.0.1", hostPort: 18081, containerPort: 80, protocol: "tcp" }] });
});

test("a privileged container with added capabilities, a host bind mount and a public port needs four allowances", () => {
  const { config, spec } = priv();
  const s = readCheckpointSettings("ck1", config, spec);
  const by = (a: string) => s.elevations.filter((e) => e.allow === a).map((e) => e.detail);
  expect(by("privileged")).toContain("privileged mode");
  expect(by("capabilities")[0]).toContain("CAP_SYS_ADMIN");
  expect(by("bind-mounts")).toEqual(["/tmp/hostdir at /host"]);
  expect(by("public-ports")).toEqual(["port 18080->80 on every interface of this machine"]);
  expect(by("devices").length).toBeGreaterThan(0);
});

test("each setting alone is caught: host network, a host namespace path, OCI hooks, a runtime annotation, a host sysctl, secrets, a host rootfs", () => {
  const cases: Array<[string, (c: Json, s: Json) => void, string]> = [
    ["host network", (c) => (c.networkMode = "host"), "host-namespaces"],
    ["shared PID namespace", (_c, s) => (s.linux.namespaces = s.linux.namespaces.filter((n: Json) => n.type !== "pid")), "host-namespaces"],
    ["another network", (c) => (c.newNetworks = { corp: {} }), "networks"],
    ["a device", (_c, s) => (s.linux.devices = [{ path: "/dev/kvm", type: "c", major: 10, minor: 232 }]), "devices"],
    ["no seccomp", (_c, s) => delete s.linux.seccomp, "privileged"],
    ["a port on a LAN address", (c) => (c.newPortMappings = [{ host_ip: "192.168.1.5", container_port: 80, host_port: 80, range: 1, protocol: "tcp" }]), "public-ports"],
    ["a bind of /etc", (_c, s) => s.mounts.push({ destination: "/hostetc", type: "bind", source: "/etc", options: ["rbind"] }), "bind-mounts"],
  ];
  for (const [what, edit, allow] of cases) {
    const { config, spec } = dflt();
    edit(config, spec);
    expect({ what, allows: readCheckpointSettings("ck2", config, spec).elevations.map((e) => e.allow as string) }).toEqual({ what, allows: [allow] });
  }
  const refusals: Array<[string, (c: Json, s: Json) => void, RegExp]> = [
    ["joined namespace", (_c, s) => s.linux.namespaces.find((n: Json) => n.type === "pid").path = "/proc/1/ns/pid", /joins the existing pid namespace/],
    ["hooks", (_c, s) => (s.hooks = { prestart: [{ path: "/bin/sh", args: ["sh", "-c", "touch /pwned"] }] }), /OCI hooks/],
    ["criu config", (_c, s) => (s.annotations["org.criu.config"] = "/tmp/x"), /annotation org.criu.config/],
    ["sysctl", (_c, s) => (s.linux.sysctl["kernel.core_pattern"] = "|/tmp/x"), /host-wide sysctl kernel.core_pattern/],
    ["secrets", (c) => (c.secrets = [{ Name: "db-password" }]), /secrets of this machine/],
    ["rootfs", (c) => (c.rootfs = "/"), /root filesystem is a directory of the host/],
    ["other container's netns", (c) => (c.netNsCtr = "abc"), /joins the namespaces of another container/],
  ];
  for (const [, edit, re] of refusals) {
    const { config, spec } = dflt();
    edit(config, spec);
    expect(() => readCheckpointSettings("ck2", config, spec)).toThrow(IntegrityError);
    expect(() => readCheckpointSettings("ck2", config, spec)).toThrow(re);
  }
});

test("the rewrite drops every host path, sets devx's name and labels, and binds volumes to this machine's", () => {
  const { config, spec } = dflt();
  config.conmonPidFile = "/etc/ld.so.preload";
  config.labels = { "devx.managed": "true", "devx.project": "someone-else", "io.containers.autoupdate": "registry" };
  const w = { name: "shop-api", labels: { "devx.managed": "true", "devx.project": "shop", "devx.kind": "service" }, volumeSources: new Map([["t1", "/var/lib/containers/storage/volumes/t1/_data"]]), keepBinds: false };
  const c = rewriteConfig(config, w);
  for (const k of ["conmonPidFile", "pid_file", "ShmDir", "staticDir", "secretsPath", "logPath", "mounts", "cgroupParent", "id"]) expect(c[k]).toBeUndefined();
  expect(c.name).toBe("shop-api");
  expect(c.labels).toEqual(w.labels);
  const evilSpec = { ...spec, mounts: spec.mounts.map((m: Json) => (m.destination === "/data" ? { ...m, source: "/etc" } : m)), hooks: { poststop: [{ path: "/bin/sh" }] } };
  const s = rewriteSpec(evilSpec, config, w);
  expect(s.hooks).toBeUndefined();
  expect((s.linux as Json).cgroupsPath).toBeUndefined();
  const binds = (s.mounts as Json[]).filter((m) => m.type === "bind");
  expect(binds.map((m) => [m.destination, m.source])).toEqual([["/data", "/var/lib/containers/storage/volumes/t1/_data"]]);
  // a user bind survives only when allowed
  const withBind = { ...spec, mounts: [...spec.mounts, { destination: "/host", type: "bind", source: "/srv", options: [] }] };
  expect((rewriteSpec(withBind, config, w).mounts as Json[]).some((m) => m.destination === "/host")).toBe(false);
  expect((rewriteSpec(withBind, config, { ...w, keepBinds: true }).mounts as Json[]).some((m) => m.destination === "/host")).toBe(true);
});
