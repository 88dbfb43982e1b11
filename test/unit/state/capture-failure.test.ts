import { expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import type { Checkpointer, ContainerInfo, ContainerRuntime } from "../../../providers/runtime/types.ts";
import { captureSnapshot } from "../../../src/core/state/capture.ts";
import type { StateDeps } from "../../../src/core/state/state-deps.ts";

/**
 * A checkpoint can fail after CRIU's dump (the export, the disk): podman then leaves the container
 * stopped, with its local checkpoint. The capture's clean-up resumes it — but only if it is not
 * running (a dump that failed leaves it running, and must not be "restarted fresh").
 */
function runtimeWhere(stateAfterFailure: string) {
  const calls: string[] = [];
  const ctr: ContainerInfo = { id: "c1", name: "db", image: "img:1", state: "running", labels: {}, ports: [], volumes: [{ name: "data", destination: "/d" }] };
  const checkpointer: Checkpointer = {
    supportsCheckpoint: async () => ({ ok: true }),
    checkpoint: () => {
      throw new Error("unused");
    },
    restore: async () => "",
    checkpointToFile: async (name) => {
      calls.push(`checkpoint ${name}`);
      throw new Error("checkpoint of db failed: writing the export: no space left on device");
    },
    resume: async (name) => void calls.push(`resume ${name}`),
  };
  const rt = {
    displayName: "podman",
    checkpointer,
    version: async () => "4.3.1",
    inspectContainer: async () => ({ ...ctr, state: stateAfterFailure }),
    start: async (name: string) => void calls.push(`start ${name}`),
  } as unknown as ContainerRuntime;
  const sd: StateDeps = { runtime: rt, stateDir: "/nonexistent", emit: () => {}, now: () => new Date(), openRelay: () => Promise.reject(new Error("no relay")) };
  return { sd, ctr, calls };
}

for (const [state, expected] of [
  ["exited", ["checkpoint db", "resume db"]],
  ["running", ["checkpoint db"]],
] as const) {
  test(`a checkpoint that fails and leaves its container ${state}: ${expected.length > 1 ? "resumed" : "left alone"}, and the failure is reported`, async () => {
    const { sd, ctr, calls } = runtimeWhere(state);
    const dir = join(mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "capfail-")), "snap");
    await expect(captureSnapshot(sd, { mode: "full", containers: [ctr], stopOnly: [], volumes: [] }, { dir, kind: "checkpoint", name: "x" })).rejects.toThrow("no space left on device");
    expect(calls).toEqual([...expected]);
  });
}
