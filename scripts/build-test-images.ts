#!/usr/bin/env bun
/**
 * Offline database images for tests (no container registry is reachable here).
 *
 * A `debootstrap --variant=minbase bookworm` rootfs is imported once as the base; each engine is a
 * `podman build` on top with Debian packages and an entry point that keeps the official image's env
 * contract, so devx drives these and the official images with the same code. Every tag carries a
 * hash of its recipe: an image is built only when that exact recipe has never been built here.
 * Mongo is not packaged by Debian, so there is no mongo test image.
 *
 *   bun scripts/build-test-images.ts [redis] [postgres] [mysql]    (default: all)
 */
import { createHash } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export type TestImageEngine = "redis" | "postgres" | "mysql";

const here = resolve(import.meta.dir, "test-images");
const MIRROR = "http://deb.debian.org/debian";
const BASE_RECIPE = `debootstrap --variant=minbase bookworm ${MIRROR} v1`;
export const BASE_IMAGE = `localhost/devx-test-debian:bookworm-${hash(BASE_RECIPE)}`;

const APT = "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends";
const CLEAN = "apt-get clean && rm -rf /var/lib/apt/lists/*";

interface Recipe {
  containerfile: string;
  entrypoint: string;
}

const RECIPES: Record<TestImageEngine, Recipe> = {
  redis: {
    entrypoint: "redis-entrypoint.sh",
    containerfile: `FROM ${BASE_IMAGE}
RUN ${APT} redis-server redis-tools && ${CLEAN} && mkdir /data && chown redis:redis /data
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
WORKDIR /data
EXPOSE 6379
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["redis-server"]
`,
  },
  postgres: {
    entrypoint: "postgres-entrypoint.sh",
    // create_main_cluster=false: the package must not create its own cluster; the entry point does
    containerfile: `FROM ${BASE_IMAGE}
RUN mkdir -p /etc/postgresql-common && echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf \\
 && ${APT} postgresql-15 postgresql-client-15 && ${CLEAN}
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin PGDATA=/var/lib/postgresql/data
STOPSIGNAL SIGINT
EXPOSE 5432
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
`,
  },
  mysql: {
    entrypoint: "mysql-entrypoint.sh",
    containerfile: `FROM ${BASE_IMAGE}
RUN ${APT} mariadb-server mariadb-client && ${CLEAN} && rm -rf /var/lib/mysql/* && mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
COPY entrypoint.sh /usr/local/bin/docker-entrypoint.sh
EXPOSE 3306
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["mysqld"]
`,
  },
};

function hash(s: string): string {
  return createHash("sha256").update(s).digest("hex").slice(0, 10);
}

/** The tag for an engine's current recipe (changes whenever the recipe or entry point changes). */
export function testImageTag(engine: TestImageEngine): string {
  const r = RECIPES[engine];
  return `localhost/devx-test-${engine}:${hash(r.containerfile + readFileSync(join(here, r.entrypoint), "utf8"))}`;
}

function podman(args: string[], opts: { stdin?: "inherit" | "ignore" | Blob; quiet?: boolean } = {}): void {
  const r = Bun.spawnSync(["podman", ...args], { stdin: opts.stdin ?? "ignore", stdout: opts.quiet ? "pipe" : "inherit", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`podman ${args[0]} failed (exit ${r.exitCode}): ${r.stderr.toString().trim().split("\n").slice(-5).join("\n")}`);
}

const exists = (tag: string) => Bun.spawnSync(["podman", "image", "exists", tag]).exitCode === 0;

/**
 * Serialises builds across processes (parallel test files, several engineers): a build in progress
 * holds an O_EXCL lock file naming its PID; a lock whose owner died is taken over.
 */
async function withLock<T>(name: string, fn: () => Promise<T> | T): Promise<T> {
  const file = join(tmpdir(), `devx-test-image-${name.replace(/[^a-z0-9]+/gi, "_")}.lock`);
  for (;;) {
    try {
      const fd = openSync(file, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const owner = Number(readFileSync(file, "utf8").trim() || "0");
      let alive = false;
      try {
        process.kill(owner, 0);
        alive = owner > 0;
      } catch {}
      if (!alive) rmSync(file, { force: true });
      else await Bun.sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(file, { force: true });
  }
}

const log = (s: string) => process.stderr.write(`[test-images] ${s}\n`);

export async function ensureBase(): Promise<void> {
  if (exists(BASE_IMAGE)) return;
  await withLock(BASE_IMAGE, () => {
    if (exists(BASE_IMAGE)) return;
    const t0 = performance.now();
    const root = mkdtempSync(join(tmpdir(), "devx-debootstrap-"));
    try {
      log(`debootstrap minbase bookworm → ${BASE_IMAGE}`);
      const d = Bun.spawnSync(["debootstrap", "--variant=minbase", "bookworm", root, MIRROR], { stdout: "pipe", stderr: "pipe" });
      if (d.exitCode !== 0) throw new Error(`debootstrap failed: ${d.stderr.toString().trim().split("\n").slice(-5).join("\n")}`);
      const tar = Bun.spawnSync(["tar", "-C", root, "--numeric-owner", "-c", "."], { stdout: "pipe", stderr: "pipe", maxBuffer: 2 ** 31 });
      if (tar.exitCode !== 0) throw new Error(`tar failed: ${tar.stderr.toString()}`);
      podman(["import", "-q", "--change", 'CMD ["/bin/bash"]', "-", BASE_IMAGE], { stdin: new Blob([new Uint8Array(tar.stdout)]), quiet: true });
      log(`base built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
}

/** Older recipes of the same image are dead weight (~200–500 MB each); one still in use stays. */
function pruneOlderTags(tag: string): void {
  const repo = tag.slice(0, tag.lastIndexOf(":"));
  const r = Bun.spawnSync(["podman", "images", "--format", "{{.Repository}}:{{.Tag}}", repo], { stdout: "pipe", stderr: "ignore" });
  for (const old of r.stdout.toString().split("\n").filter((t) => t && t !== tag && t.startsWith(`${repo}:`))) {
    Bun.spawnSync(["podman", "rmi", old], { stdout: "ignore", stderr: "ignore" });
  }
}

/** Build (once) and return the test image for an engine. */
export async function ensureTestImage(engine: TestImageEngine): Promise<string> {
  const tag = testImageTag(engine);
  if (exists(tag)) return tag;
  await ensureBase();
  return withLock(tag, () => {
    if (exists(tag)) return tag;
    const t0 = performance.now();
    const r = RECIPES[engine];
    const ctx = mkdtempSync(join(tmpdir(), `devx-img-${engine}-`));
    try {
      writeFileSync(join(ctx, "Containerfile"), r.containerfile);
      writeFileSync(join(ctx, "entrypoint.sh"), readFileSync(join(here, r.entrypoint)), { mode: 0o755 });
      log(`building ${tag}`);
      podman(["build", "-q", "--pull=never", "--label", "devx.test-image=true", "-t", tag, ctx], { quiet: true });
      log(`${engine} built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      pruneOlderTags(tag);
      return tag;
    } finally {
      rmSync(ctx, { recursive: true, force: true });
    }
  });
}

if (import.meta.main) {
  const wanted = (process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(RECIPES)) as TestImageEngine[];
  for (const e of wanted) {
    if (!(e in RECIPES)) throw new Error(`unknown engine ${e} (expected ${Object.keys(RECIPES).join(", ")}; mongo has no Debian package)`);
    const t0 = performance.now();
    const tag = await ensureTestImage(e);
    console.log(`${e}\t${tag}\t${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
}
