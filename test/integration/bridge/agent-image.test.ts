import { describe, expect } from "bun:test";
import { testWith } from "../../support/require.ts";
import { podmanAvailable } from "../../support/images.ts";
import { ensureBinary } from "../../support/binary.ts";
import { buildAgentImage } from "../../../scripts/build-agent-image.ts";

describe("agent image", () => {
  testWith("podman", podmanAvailable())("built offline from the compiled binary; runs as non-root on a read-only rootfs with no capabilities", () => {
    const tag = `localhost/devx-agent-test:${process.pid}`;
    try {
      buildAgentImage(ensureBinary(), tag);
      const r = Bun.spawnSync(["podman", "run", "--rm", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", tag, "--version"], { stdout: "pipe", stderr: "pipe" });
      expect(r.stderr.toString()).toBe("");
      expect(r.stdout.toString()).toMatch(/^devx \d+\.\d+\.\d+/);
      const user = Bun.spawnSync(["podman", "image", "inspect", tag, "--format", "{{.Config.User}} {{json .Config.Entrypoint}}"], { stdout: "pipe" }).stdout.toString().trim();
      expect(user).toBe('65532:65532 ["/usr/local/bin/devx"]');
      // nothing but the agent: no shell to exec into
      expect(Bun.spawnSync(["podman", "run", "--rm", "--entrypoint", "/bin/sh", tag, "-c", "true"], { stdout: "pipe", stderr: "pipe" }).exitCode).not.toBe(0);
    } finally {
      Bun.spawnSync(["podman", "rmi", "-f", tag], { stdout: "ignore", stderr: "ignore" });
    }
  }, 120_000);
});
