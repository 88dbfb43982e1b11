import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { runCli } from "../../../src/cli/run.ts";
import { memoryIO } from "../../../src/cli/io.ts";
import type { Deps } from "../../../src/cli/deps.ts";
import { systemExec } from "../../../src/platform/exec.ts";
import { PodmanRuntime } from "../../../providers/runtime/podman.ts";
import { tarContentDigest } from "../../../src/core/state/digest.ts";
import { BUSYBOX_IMAGE, ensureBusyboxImage } from "../../support/images.ts";

/**
 * A small devx environment on real podman, scoped by a unique devx.project so parallel runs never
 * see each other: `<p>-app` (an in-memory counter, no volumes: checkpointed while running) and
 * `<p>-db` (kind=database, mounts `<p>-data` with known content: stopped for a consistent capture).
 */
export interface Env {
  project: string;
  dir: string;
  stateDir: string;
  app: string;
  db: string;
  volume: string;
  cli(args: string[], overrides?: Partial<Deps> & { tty?: boolean; answers?: string[] }): Promise<{ code: number; out: string; err: string }>;
  start(): void;
  wipe(): void;
  counter(name?: string): number;
  snapshot(): Promise<{ containers: string[]; volumes: Record<string, string> }>;
  sh(argv: string[], input?: string): string;
}

export function sh(argv: string[], input?: string): string {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", stdin: input === undefined ? "ignore" : new TextEncoder().encode(input) });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

const LOOP = (body: string) => `trap 'exit 0' TERM; ${body}`;

export function makeEnv(tag: string, yaml: (project: string) => string = () => ""): Env {
  ensureBusyboxImage();
  const project = `dx${tag}${process.pid}${Math.random().toString(36).slice(2, 6)}`;
  const dir = mkdtempSync(join(process.env.DEVX_TEST_ROOT ?? tmpdir(), `state-${tag}-`));
  const stateDir = join(dir, "devx-home");
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(join(dir, "devx.yaml"), `name: ${project}\n${yaml(project)}`);
  const app = `${project}-app`;
  const db = `${project}-db`;
  const volume = `${project}-data`;
  const lbl = (kind: string) => ["--label", "devx.managed=true", "--label", `devx.project=${project}`, "--label", `devx.kind=${kind}`];
  const rt = new PodmanRuntime({ exec: systemExec, tmpDir: join(dir, "rt-tmp") });

  const env: Env = {
    project,
    dir,
    stateDir,
    app,
    db,
    volume,
    sh,
    async cli(args, overrides = {}) {
      const { tty, answers, ...rest } = overrides;
      const io = memoryIO({ tty, answers });
      const code = await runCli(args, { io, cwd: dir, env: { ...process.env, DEVX_HOME: stateDir }, paths: { state: join(stateDir, "state"), config: join(stateDir, "config") }, ...rest });
      return { code, out: io.stdout(), err: io.stderr() };
    },
    start() {
      sh(["podman", "volume", "create", ...lbl("database"), volume]);
      sh(["podman", "run", "--rm", "-v", `${volume}:/data`, BUSYBOX_IMAGE, "sh", "-c", "echo 'hello devx' > /data/known.txt && mkdir -p /data/pg && chmod 700 /data/pg && chown 999:999 /data/pg && head -c 3000000 /dev/urandom > /data/pg/blob && ln -s known.txt /data/link"]);
      sh(["podman", "run", "-d", "--name", app, ...lbl("service"), BUSYBOX_IMAGE, "sh", "-c", LOOP("i=0; while :; do i=$((i+1)); echo $i > /tmp/n.t; mv /tmp/n.t /tmp/n; sleep 0.1; done")]);
      sh(["podman", "run", "-d", "--name", db, ...lbl("database"), "-v", `${volume}:/data`, BUSYBOX_IMAGE, "sh", "-c", LOOP("while :; do sleep 0.2; done")]);
    },
    wipe() {
      Bun.spawnSync(["sh", "-c", `podman rm -f -t 0 $(podman ps -aq --filter label=devx.project=${project}) >/dev/null 2>&1; podman volume rm -f $(podman volume ls -q --filter label=devx.project=${project}) >/dev/null 2>&1; true`]);
    },
    counter(name = app) {
      return Number(sh(["podman", "exec", name, "cat", "/tmp/n"]).trim());
    },
    /** what a user would compare: containers with their state, and each volume's content digest */
    async snapshot() {
      const containers = (await rt.listContainers({ labels: { "devx.project": project }, all: true })).map((c) => `${c.name}:${c.state}:${c.image}`);
      const volumes: Record<string, string> = {};
      for (const v of await rt.listVolumes({ labels: { "devx.project": project } })) volumes[v.name] = await tarContentDigest(rt.exportVolume(v.name));
      return { containers, volumes };
    },
  };
  return env;
}

/** Wait until the counter passes `n` (the readiness signal of the app container). */
export async function counterAtLeast(env: Env, n: number, name?: string): Promise<number> {
  for (;;) {
    let v = 0;
    try {
      v = env.counter(name);
    } catch {
      /* not written yet */
    }
    if (v >= n) return v;
    await Bun.sleep(50);
  }
}
