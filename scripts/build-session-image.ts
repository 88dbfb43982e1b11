#!/usr/bin/env bun
/**
 * Builds a session sandbox image from the compiled devx binary — offline, with podman: a Debian
 * base (the team's, or the debootstrap one tests build), bash and the usual tools a terminal needs,
 * a non-root user `dev` (uid 1000) who owns /workspace, and /usr/local/bin/devx, whose `devx runner`
 * the local backend starts as the container's main process (under podman's init). Templates name
 * the image (`devx session template push DIR --name N --image TAG`).
 *
 *   bun scripts/build-session-image.ts                                 # localhost/devx-session:<version>, FROM the test Debian base
 *   bun scripts/build-session-image.ts --base docker.io/library/debian:bookworm-slim --tag registry.example.com/team/devx-session:1
 *
 * The tag carries a hash of the recipe and the binary, so an image is built only once per devx.
 */
import { createHash } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const root = resolve(import.meta.dir, "..");

const recipe = (base: string) => `FROM ${base}
RUN if command -v apt-get >/dev/null; then apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends bash ca-certificates procps less && apt-get clean && rm -rf /var/lib/apt/lists/*; fi \\
 && (getent passwd 1000 >/dev/null || useradd -m -u 1000 -s /bin/bash dev) \\
 && mkdir -p /workspace /run/devx-secret && chown 1000:1000 /workspace /run/devx-secret
COPY devx /usr/local/bin/devx
ENV SHELL=/bin/bash HOME=/home/dev
USER 1000:1000
WORKDIR /workspace
ENTRYPOINT ["/usr/local/bin/devx", "runner"]
`;

export interface SessionImageOptions {
  base: string;
  binary?: string;
  tag?: string;
}

/** Build (once per recipe + binary) and return the image tag. */
export function buildSessionImage(o: SessionImageOptions): string {
  const binary = o.binary ?? join(root, "dist", "devx");
  const file = recipe(o.base);
  const digest = createHash("sha256").update(file).update(readFileSync(binary)).digest("hex").slice(0, 12);
  const tag = o.tag ?? `localhost/devx-session:${digest}`;
  if (Bun.spawnSync(["podman", "image", "exists", tag]).exitCode === 0) return tag;
  const ctx = mkdtempSync(join(tmpdir(), "devx-session-image-"));
  try {
    writeFileSync(join(ctx, "Containerfile"), file);
    copyFileSync(binary, join(ctx, "devx"));
    const r = Bun.spawnSync(["podman", "build", "-q", "-t", tag, "-f", join(ctx, "Containerfile"), ctx], { stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`podman build failed: ${r.stderr.toString().trim().split("\n").slice(-5).join("\n")}`);
    return tag;
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { base: { type: "string" }, tag: { type: "string" }, binary: { type: "string" } } });
  let base = values.base;
  if (!base) {
    const { ensureBase, BASE_IMAGE } = await import("./build-test-images.ts");
    await ensureBase();
    base = BASE_IMAGE;
  }
  console.log(buildSessionImage({ base, tag: values.tag, binary: values.binary }));
}
