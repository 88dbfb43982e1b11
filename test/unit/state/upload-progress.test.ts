import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { uploadBundle } from "../../../src/core/state/bundle-io.ts";
import type { StateDeps } from "../../../src/core/state/state-deps.ts";
import type { DevxEvent } from "../../../src/events/types.ts";
import { openRelay } from "../../../providers/relay/index.ts";
import { systemExec } from "../../../src/platform/exec.ts";

/** `upload: 9.2 KB/7.1 KB`: the total announced must be what the progress tap counts, framing included. */
test("upload progress ends exactly at its announced total (tar headers and padding counted)", async () => {
  const root = mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "upload-progress-"));
  const dir = join(root, "snap");
  mkdirSync(join(dir, "volumes"), { recursive: true });
  const sizes = { a: 7000, b: 1, c: 512, d: 5 << 20 };
  for (const [n, size] of Object.entries(sizes)) writeFileSync(join(dir, "volumes", `${n}.tar`), Buffer.alloc(size, 7));
  const manifest = { formatVersion: 1, kind: "share", name: "x", created: new Date(0).toISOString(), mode: "db-only", host: { os: "linux", arch: "x64" }, runtime: { name: "podman", version: "4" }, containers: [], volumes: Object.keys(sizes).map((n) => ({ name: n, labels: {}, file: `volumes/${n}.tar`, size: 0, sha256: "", contentDigest: "" })) };
  writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest));
  mkdirSync(join(root, "relay"));
  const events: DevxEvent[] = [];
  const sd = { emit: (e: DevxEvent) => events.push(e), stateDir: root } as unknown as StateDeps;
  const relay = openRelay(pathToFileURL(join(root, "relay")).href, { env: {}, exec: systemExec });
  await uploadBundle(sd, relay, "obj.devx", dir, manifest as never, { passphrase: "abandon-ability-able-about", level: 1, iterations: 1000 });
  const progress = events.filter((e): e is Extract<DevxEvent, { type: "progress" }> => e.type === "progress" && e.id === "upload");
  expect(progress.length).toBeGreaterThan(1);
  const total = progress[0]!.total!;
  for (const p of progress) expect([p.bytes <= total, p.total]).toEqual([true, total]);
  expect(progress.at(-1)!.bytes).toBe(total);
});
