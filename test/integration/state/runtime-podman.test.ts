import { afterAll, beforeAll, expect, setDefaultTimeout } from "bun:test";
setDefaultTimeout(60_000);
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createWriteStream } from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemExec } from "../../../src/platform/exec.ts";
import { PodmanRuntime } from "../../../providers/runtime/podman.ts";
import { detectRuntime } from "../../../providers/runtime/index.ts";
import { BUSYBOX_IMAGE, criuAvailable, ensureBusyboxImage, podmanAvailable } from "../../support/images.ts";
import { testWith } from "../../support/require.ts";

const hasPodman = podmanAvailable();
const ptest = testWith("podman", hasPodman);
const ctest = testWith("criu", hasPodman && criuAvailable());
const prefix = `dxrt-${process.pid}-${Date.now().toString(36)}`;
const rt = new PodmanRuntime({ exec: systemExec, tmpDir: mkdtempSync(join(tmpdir(), "dxrt-")) });
const label = { "devx.managed": "true", "devx.project": prefix };

async function text(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

function sh(argv: string[]): string {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
  return r.stdout.toString();
}

beforeAll(() => {
  if (hasPodman) ensureBusyboxImage();
});
afterAll(() => {
  if (!hasPodman) return;
  Bun.spawnSync(["sh", "-c", `podman rm -f $(podman ps -aq --filter label=devx.project=${prefix}) 2>/dev/null; podman volume rm -f $(podman volume ls -q --filter label=devx.project=${prefix}) 2>/dev/null`]);
});

ptest("lists labelled containers with image, ports, volumes and labels", async () => {
  await rt.createVolume(`${prefix}-v`, { ...label, "devx.kind": "database" });
  const id = await rt.run({ name: `${prefix}-c`, image: BUSYBOX_IMAGE, command: ["sleep", "600"], labels: { ...label, "devx.kind": "service" }, ports: [{ hostIp: "127.0.0.1", hostPort: 18000 + (process.pid % 1000), containerPort: 80 }], volumes: [{ name: `${prefix}-v`, destination: "/data" }] });
  expect(id).toMatch(/^[0-9a-f]{64}$/);
  const list = await rt.listContainers({ labels: { "devx.project": prefix } });
  expect(list).toHaveLength(1);
  expect(list[0]).toMatchObject({ id, name: `${prefix}-c`, image: BUSYBOX_IMAGE, state: "running", volumes: [{ name: `${prefix}-v`, destination: "/data" }] });
  expect(list[0]!.labels["devx.kind"]).toBe("service");
  expect(list[0]!.ports).toEqual([{ hostIp: "127.0.0.1", hostPort: 18000 + (process.pid % 1000), containerPort: 80, protocol: "tcp" }]);
  expect((await rt.listVolumes({ labels: { "devx.project": prefix } })).map((v) => v.name)).toEqual([`${prefix}-v`]);
  expect(await rt.inspectContainer(`${prefix}-nope`)).toBeUndefined();
  await rt.remove(`${prefix}-c`, { force: true });
});

ptest("a container that mounts nothing is listed from ps alone, exactly as inspect describes it", async () => {
  const base = 19000 + (process.pid % 500) * 2;
  const name = `${prefix}-plain`;
  // podman ps reports a port range as one row and in its own order; inspect lists each port
  sh(["podman", "run", "-d", "--name", name, "--label", `devx.managed=true`, "--label", `devx.project=${prefix}`, "--label", "devx.kind=cache", "-p", `127.0.0.1:${base + 10}:6379`, "-p", `${base}-${base + 1}:7000-7001/udp`, BUSYBOX_IMAGE, "sleep", "600"]);
  const seen: string[][] = [];
  const counting = new PodmanRuntime({ exec: { ...systemExec, run: (argv, o) => (seen.push(argv), systemExec.run(argv, o)) }, tmpDir: rt["tmpDir"] });
  const [listed] = await counting.listContainers({ labels: { "devx.project": prefix, "devx.kind": "cache" } });
  expect(seen.map((a) => a[1])).toEqual(["ps"]);
  const inspected = await rt.inspectContainer(name);
  expect(listed).toBeDefined();
  expect({ ...listed!, createdAt: undefined }).toEqual({ ...inspected!, createdAt: undefined });
  expect(Math.abs(Date.parse(listed!.createdAt!) - Date.parse(inspected!.createdAt!))).toBeLessThan(1000);
  expect(listed!.ports).toHaveLength(3);
  // one that mounts a volume is inspected too (ps knows its mount destinations, not the volume names)
  await rt.createVolume(`${prefix}-pv`, label);
  sh(["podman", "run", "-d", "--name", `${name}-m`, "--label", `devx.managed=true`, "--label", `devx.project=${prefix}`, "--label", "devx.kind=cache", "-v", `${prefix}-pv:/d`, BUSYBOX_IMAGE, "sleep", "600"]);
  seen.length = 0;
  const both = await counting.listContainers({ labels: { "devx.project": prefix, "devx.kind": "cache" } });
  expect(seen.map((a) => a.slice(1, 3).join(" "))).toEqual(["ps --format", "container inspect"]);
  expect(both.map((c) => [c.name, c.volumes])).toEqual([[name, []], [`${name}-m`, [{ name: `${prefix}-pv`, destination: "/d" }]]]);
  // volumes: one `volume ls`, labels and mountpoint included
  seen.length = 0;
  const vols = await counting.listVolumes({ labels: { "devx.project": prefix } });
  expect(seen).toHaveLength(1);
  expect(vols.find((v) => v.name === `${prefix}-pv`)).toMatchObject({ labels: label, mountpoint: expect.stringContaining(`${prefix}-pv`) });
  sh(["podman", "rm", "-f", "-t", "0", name, `${name}-m`]);
});

ctest("criu check and the tools' versions are probed once per binary and boot, and probed again after a failed checkpoint", async () => {
  const factsFile = join(mkdtempSync(join(tmpdir(), "dxfacts-")), "host-facts.json");
  const seen: string[] = [];
  const make = () => new PodmanRuntime({ exec: { ...systemExec, run: (argv, o) => (seen.push(argv.slice(0, 2).join(" ")), systemExec.run(argv, o)) }, tmpDir: rt["tmpDir"], factsFile });
  const first = make();
  expect(await first.checkpointer.supportsCheckpoint()).toEqual({ ok: true });
  expect(await first.version()).toMatch(/^\d+\.\d+/);
  expect(await first.checkpointer.toolVersion?.()).toMatch(/^\d+\.\d+/);
  expect(seen).toEqual(["criu check", "podman --version", "criu --version"]);
  seen.length = 0;
  const second = make();
  expect(await second.checkpointer.supportsCheckpoint()).toEqual({ ok: true });
  expect(await second.version()).toBe(await first.version());
  expect(await second.checkpointer.toolVersion?.()).toBe(await first.checkpointer.toolVersion?.());
  expect(seen).toEqual([]);
  // a checkpoint that fails makes the next run check CRIU again
  await expect(text(second.checkpointer.checkpoint(`${prefix}-no-such-container`))).rejects.toThrow(/checkpoint of/);
  seen.length = 0;
  expect(await make().checkpointer.supportsCheckpoint()).toEqual({ ok: true });
  expect(seen).toEqual(["criu check"]);
});

ptest("volume export is a tar; import replaces (not merges) the content and keeps labels", async () => {
  const v = `${prefix}-vol2`;
  await rt.createVolume(v, { ...label, "devx.kind": "database" });
  sh(["podman", "run", "--rm", "-v", `${v}:/d`, BUSYBOX_IMAGE, "sh", "-c", "echo one > /d/a; echo two > /d/b"]);
  const tar = await text(rt.exportVolume(v));
  sh(["podman", "run", "--rm", "-v", `${v}:/d`, BUSYBOX_IMAGE, "sh", "-c", "echo changed > /d/a; echo extra > /d/c"]);
  await rt.importVolume(v, Readable.from([tar]));
  expect(sh(["podman", "run", "--rm", "-v", `${v}:/d`, BUSYBOX_IMAGE, "sh", "-c", "cd /d && ls && cat a"])).toBe("a\nb\none\n");
  expect((await rt.listVolumes({ labels: { "devx.project": prefix, "devx.kind": "database" } })).map((x) => x.name)).toContain(v);
  await expect(text(rt.exportVolume(`${prefix}-missing`))).rejects.toThrow(/volume export/);
});

ctest("checkpoint to a stream and restore under the same name: the in-memory counter continues", async () => {
  expect(await rt.checkpointer.supportsCheckpoint()).toEqual({ ok: true });
  const name = `${prefix}-counter`;
  await rt.run({ name, image: BUSYBOX_IMAGE, command: ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/n.t; mv /tmp/n.t /tmp/n; sleep 0.1; done"], labels: label });
  let before = 0;
  while (before < 5) before = Number(sh(["podman", "exec", name, "cat", "/tmp/n"]).trim() || 0);
  const archive = await text(rt.checkpointer.checkpoint(name));
  expect(archive.subarray(0, 4).toString("hex")).toBe("28b52ffd"); // zstd magic
  expect((await rt.inspectContainer(name))?.state).toBe("exited");
  await rt.remove(name, { force: true });
  await rt.checkpointer.restore(Readable.from([archive]));
  const c = await rt.inspectContainer(name);
  expect(c?.state).toBe("running");
  const after = Number(sh(["podman", "exec", name, "cat", "/tmp/n"]).trim());
  // the shell variable survived: counting resumed from the checkpointed value, not from 0
  expect(after).toBeGreaterThanOrEqual(before);
  await rt.remove(name, { force: true });
});

ctest("a checkpoint stream or volume export its consumer abandons leaves nothing running, blocked or behind", async () => {
  const name = `${prefix}-abandon`;
  await rt.run({ name, image: BUSYBOX_IMAGE, command: ["sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/n.t; mv /tmp/n.t /tmp/n; sleep 0.1; done"], labels: label });
  const tmp = rt["tmpDir"] as string;
  const closed = (r: Readable) => new Promise<void>((res) => r.once("close", () => res()));
  // the destination cannot be opened: the stream is dropped before its first byte
  const early = rt.checkpointer.checkpoint(name, { leaveRunning: true });
  const earlyClosed = closed(early);
  await expect(pipeline(early, createWriteStream(join(tmp, "no-such-dir", "x.tar.zst")))).rejects.toThrow(/ENOENT/);
  await earlyClosed;
  // dropped after its first chunk
  const late = rt.checkpointer.checkpoint(name, { leaveRunning: true });
  const lateClosed = closed(late);
  for await (const _ of late) break;
  await lateClosed;
  expect(sh(["sh", "-c", `ls '${tmp}' | grep -c 'fifo\\|ckpt' || true`]).trim()).toBe("0");
  expect(sh(["sh", "-c", "pgrep -f '[p]odman container checkpoint' || true"]).trim()).toBe("");
  expect((await rt.inspectContainer(name))?.state).toBe("running");
  const a = Number(sh(["podman", "exec", name, "cat", "/tmp/n"]).trim());
  await Bun.sleep(300);
  expect(Number(sh(["podman", "exec", name, "cat", "/tmp/n"]).trim())).toBeGreaterThan(a);
  // and a volume export dropped midway is killed, leaving no FIFO either
  const v = `${prefix}-abandon-v`;
  await rt.createVolume(v, label);
  sh(["podman", "run", "--rm", "-v", `${v}:/d`, BUSYBOX_IMAGE, "sh", "-c", "head -c 8388608 /dev/urandom > /d/big"]);
  const exp = rt.exportVolume(v);
  const expClosed = closed(exp);
  for await (const _ of exp) break;
  await expClosed;
  expect(sh(["sh", "-c", `ls '${tmp}' | grep -c fifo || true`]).trim()).toBe("0");
  await rt.remove(name, { force: true });
});

ptest("detectRuntime honours the preferred runtime and reports a missing one", () => {
  const deps = { exec: systemExec, env: {}, paths: { state: tmpdir() } };
  expect(detectRuntime(deps).displayName).toBe("podman");
  expect(() => detectRuntime({ ...deps, exec: { ...systemExec, which: () => null } }, "nerdctl")).toThrow(/nerdctl is not installed/);
});
