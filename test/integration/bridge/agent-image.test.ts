import { describe, expect } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { testWith } from "../../support/require.ts";
import { podmanAvailable } from "../../support/images.ts";
import { ensureBinary } from "../../support/binary.ts";
import { buildAgentImage, buildAgentImages, HOST_ARCH } from "../../../scripts/build-agent-image.ts";

const podman = (args: string[]) => Bun.spawnSync(["podman", ...args], { stdout: "pipe", stderr: "pipe" });
const arm64Glibc = existsSync("/lib/aarch64-linux-gnu/libc.so.6") && existsSync("/lib/ld-linux-aarch64.so.1");

describe("agent image", () => {
  testWith("podman", podmanAvailable())("built offline from the compiled binary: only the binary, its loader and libraries, CA certs; non-root, read-only, no capabilities, no shell", () => {
    const tag = `localhost/devx-agent-test:${process.pid}`;
    try {
      const binary = ensureBinary();
      const img = buildAgentImage(binary, tag);
      // no OS: the image is the binary plus a few MB (glibc's loader and four libraries, the CA bundle)
      expect(img.size - statSync(binary).size).toBeLessThan(5_000_000);
      const r = podman(["run", "--rm", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", tag, "--version"]);
      expect(r.stderr.toString()).toBe("");
      expect(r.stdout.toString()).toMatch(/^devx \d+\.\d+\.\d+/);
      const cfg = podman(["image", "inspect", tag, "--format", "{{.Config.User}} {{json .Config.Entrypoint}} {{json .Config.Cmd}} {{.Architecture}}"]).stdout.toString().trim();
      expect(cfg).toBe(`65532:65532 ["/usr/local/bin/devx"] ["bridge-agent"] ${HOST_ARCH}`);
      // the image's default command is the agent, which wants its flags (exit 2: usage), not a crash
      const agent = podman(["run", "--rm", "--read-only", tag]);
      expect(agent.exitCode).toBe(2);
      expect(agent.stderr.toString()).toContain("devx bridge-agent needs --service, --session and --ports");
      expect(podman(["run", "--rm", "--entrypoint", "/bin/sh", tag, "-c", "true"]).exitCode).not.toBe(0);
      const mount = podman(["image", "mount", tag]).stdout.toString().trim();
      try {
        expect(existsSync(`${mount}/etc/ssl/certs/ca-certificates.crt`)).toBe(true);
        expect(existsSync(`${mount}/bin`) || existsSync(`${mount}/usr/bin`)).toBe(false);
      } finally {
        podman(["image", "unmount", tag]);
      }
    } finally {
      podman(["rmi", "-f", tag]);
    }
  }, 180_000);

  testWith("arm64-glibc", podmanAvailable() && arm64Glibc)("multi-arch: one tag, a manifest list of an amd64 and an arm64 image, each with its own binary and loader", async () => {
    const tag = `localhost/devx-agent-multi:${process.pid}`;
    try {
      const images = await buildAgentImages(["amd64", "arm64"], tag, ensureBinary());
      expect(images.map((i) => [i.tag, i.arch])).toEqual([[`${tag}-amd64`, "amd64"], [`${tag}-arm64`, "arm64"]]);
      const list = JSON.parse(podman(["manifest", "inspect", tag]).stdout.toString()) as { manifests: Array<{ platform: { architecture: string; os: string } }> };
      expect(list.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`).sort()).toEqual(["linux/amd64", "linux/arm64"]);
      const mount = podman(["image", "mount", `${tag}-arm64`]).stdout.toString().trim();
      try {
        const elf = Bun.spawnSync(["readelf", "-h", `${mount}/usr/local/bin/devx`], { stdout: "pipe" }).stdout.toString();
        expect(elf).toContain("AArch64");
        expect(existsSync(`${mount}/lib/ld-linux-aarch64.so.1`)).toBe(true);
      } finally {
        podman(["image", "unmount", `${tag}-arm64`]);
      }
    } finally {
      podman(["manifest", "rm", tag]);
      podman(["rmi", "-f", `${tag}-amd64`, `${tag}-arm64`]);
    }
  }, 300_000);
});
