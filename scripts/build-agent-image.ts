#!/usr/bin/env bun
/**
 * Builds the default bridge agent image, localhost/devx-agent:<version>, from the compiled binary —
 * offline, with podman: a scratch-like rootfs holding only /usr/local/bin/devx, the glibc pieces it
 * links against (from `ldd`), /etc/passwd with the non-root user 65532 the Job runs as, and /tmp.
 * No shell, no package manager, no kubectl: the agent talks to the API with its own client.
 *
 *   bun scripts/build-agent-image.ts [--binary dist/devx] [--tag localhost/devx-agent:<version>] [--push <registry/repo:tag>]
 *
 * For a real cluster, push the image somewhere the cluster can pull from and set bridge.agent_image.
 */
import { parseArgs } from "node:util";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import pkg from "../package.json" with { type: "json" };

const root = resolve(import.meta.dir, "..");
const { values } = parseArgs({
  options: {
    binary: { type: "string", default: join(root, "dist/devx") },
    tag: { type: "string", default: `localhost/devx-agent:${pkg.version}` },
    push: { type: "string" },
  },
});

function run(argv: string[], stdin?: Uint8Array): string {
  const r = Bun.spawnSync(argv, { stdin: stdin ?? "ignore", stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.slice(0, 2).join(" ")} failed: ${r.stderr.toString().trim()}`);
  return r.stdout.toString();
}

/** The shared libraries the binary needs, with the dynamic loader, as absolute host paths. */
function sharedLibraries(binary: string): string[] {
  return run(["ldd", binary])
    .split("\n")
    .map((l) => /=>\s*(\/\S+)/.exec(l)?.[1] ?? /^\s*(\/\S+)/.exec(l)?.[1])
    .filter((p): p is string => !!p);
}

export function buildAgentImage(binary: string, tag: string): string {
  if (!existsSync(binary)) throw new Error(`${binary} does not exist; run \`bun run build\` first`);
  const fs = mkdtempSync(join(tmpdir(), "devx-agent-img-"));
  try {
    mkdirSync(join(fs, "usr/local/bin"), { recursive: true });
    copyFileSync(binary, join(fs, "usr/local/bin/devx"));
    chmodSync(join(fs, "usr/local/bin/devx"), 0o755);
    for (const lib of sharedLibraries(binary)) {
      mkdirSync(join(fs, dirname(lib)), { recursive: true });
      copyFileSync(lib, join(fs, lib));
    }
    mkdirSync(join(fs, "etc"), { recursive: true });
    writeFileSync(join(fs, "etc/passwd"), "root:x:0:0:root:/:/sbin/nologin\ndevx:x:65532:65532:devx agent:/tmp:/sbin/nologin\n");
    writeFileSync(join(fs, "etc/group"), "root:x:0:\ndevx:x:65532:\n");
    mkdirSync(join(fs, "tmp"), { recursive: true, mode: 0o1777 });
    const tar = Bun.spawnSync(["tar", "--owner=0", "--group=0", "-C", fs, "-c", "."], { stdout: "pipe" });
    run(
      ["podman", "import", "-q", "--change", 'ENTRYPOINT ["/usr/local/bin/devx"]', "--change", 'CMD ["agent"]', "--change", "USER 65532:65532", "--change", "ENV HOME=/tmp", "--change", "LABEL devx.kind=agent", "-", tag],
      tar.stdout,
    );
    return tag;
  } finally {
    rmSync(fs, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const t0 = performance.now();
  const tag = buildAgentImage(resolve(values.binary!), values.tag!);
  console.error(`built ${tag} in ${Math.round(performance.now() - t0)} ms`);
  if (values.push) {
    run(["podman", "tag", tag, values.push]);
    run(["podman", "push", values.push]);
    console.error(`pushed ${values.push}; set bridge.agent_image: ${values.push}`);
  }
}
