import { expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HostFacts } from "../../../providers/runtime/host-facts.ts";

function setup() {
  const dir = mkdtempSync(join(tmpdir(), "dx-facts-"));
  const bin = join(dir, "tool");
  writeFileSync(bin, "#!/bin/sh\n");
  chmodSync(bin, 0o755);
  const which = (b: string) => (b === "tool" ? bin : null);
  return { dir, bin, file: join(dir, "facts.json"), which };
}

test("a fact is probed once per fingerprint, and again when the binary changes", async () => {
  const { bin, file, which } = setup();
  let probes = 0;
  const probe = async () => `v${++probes}`;
  const a = new HostFacts(file, { which });
  expect(await a.get("tool-version", { bins: ["tool"] }, probe)).toBe("v1");
  // a new process reads it from the file
  const b = new HostFacts(file, { which });
  expect(await b.get("tool-version", { bins: ["tool"] }, probe)).toBe("v1");
  expect(probes).toBe(1);
  // the tool was upgraded: same path, new mtime and size
  writeFileSync(bin, "#!/bin/sh\necho new\n");
  utimesSync(bin, new Date(), new Date(Date.now() + 5000));
  const c = new HostFacts(file, { which });
  expect(await c.get("tool-version", { bins: ["tool"] }, probe)).toBe("v2");
  expect(probes).toBe(2);
});

test("a failed probe is not kept; a missing binary or no file means no cache; a corrupt file is an empty cache", async () => {
  const { file, which } = setup();
  let probes = 0;
  const failing = async () => ({ ok: (++probes, false) });
  const f = new HostFacts(file, { which });
  await f.get("check", { bins: ["tool"], boot: true }, failing, (v) => v.ok);
  await new HostFacts(file, { which }).get("check", { bins: ["tool"], boot: true }, failing, (v) => v.ok);
  expect(probes).toBe(2);
  expect(f.fingerprint(["tool", "absent"])).toBeUndefined();
  let n = 0;
  const none = new HostFacts(undefined, { which });
  await none.get("k", { bins: ["tool"] }, async () => ++n);
  await none.get("k", { bins: ["tool"] }, async () => ++n);
  expect(n).toBe(2);
  writeFileSync(file, "{not json");
  const g = new HostFacts(file, { which });
  expect(await g.get("k", { bins: ["tool"] }, async () => "fresh")).toBe("fresh");
  expect(JSON.parse(readFileSync(file, "utf8")).k.value).toBe("fresh");
  // forget drops one fact
  await g.forget("k");
  expect(JSON.parse(readFileSync(file, "utf8")).k).toBeUndefined();
});

test("the boot fingerprint names the boot and the user", () => {
  const { which } = setup();
  const f = new HostFacts(undefined, { which });
  const fp = f.fingerprint(["tool"], { boot: true })!;
  expect(fp).toContain("boot:");
  expect(fp).toContain(`uid:${process.geteuid?.()}`);
  expect(fp).not.toBe(f.fingerprint(["tool"]));
});
