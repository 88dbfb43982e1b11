import { afterAll, expect, setDefaultTimeout } from "bun:test";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { BUSYBOX_IMAGE } from "../../support/images.ts";
import { pathToFileURL } from "node:url";
import { criuAvailable, podmanAvailable } from "../../support/images.ts";
import { testWith } from "../../support/require.ts";
import { startS3Server, type S3Server } from "../../support/s3-server.ts";
import { counterAtLeast, makeEnv, type Env } from "./fixture.ts";

setDefaultTimeout(180_000);
const hasPodman = podmanAvailable();
const full = testWith("criu", hasPodman && criuAvailable());
const ptest = testWith("podman", hasPodman);
const envs: Env[] = [];
let s3: S3Server | undefined;
afterAll(async () => {
  for (const e of envs) e.wipe();
  await s3?.stop();
});

/** share (full) → wipe everything → attach -y: memory and volume content come back. */
async function roundTrip(env: Env, extraEnv: Record<string, string> = {}): Promise<void> {
  env.start();
  const before = await counterAtLeast(env, 20);
  const original = await env.snapshot();
  const shared = await env.cli(["state", "share", "--json"], { env: { ...process.env, ...extraEnv } });
  expect(shared.code).toBe(0);
  const doc = JSON.parse(shared.out) as { id: string; relay: string; object: string; mode: string; containers: string[]; databases: string[]; bytes: number };
  expect(doc.mode).toBe("full");
  expect(doc.containers.sort()).toEqual([env.app, env.db].sort());
  expect(doc.databases).toEqual([env.volume]);
  expect(doc.id).toBe(`${doc.relay}/${doc.object}:${doc.id.split(":").pop()}`);
  // the passphrase appears in the --json document only, never in the progress on stderr
  expect(shared.err).not.toContain(doc.id.split(":").pop()!);
  // sharing left the environment running
  expect(env.counter()).toBeGreaterThanOrEqual(before);
  expect((await env.snapshot()).containers).toEqual(original.containers);

  env.wipe(); // a teammate's machine: nothing of this project exists
  expect(await env.snapshot()).toEqual({ containers: [], volumes: {} });
  const attached = await env.cli(["state", "attach", "-y", doc.id], { env: { ...process.env, ...extraEnv } });
  expect(attached.err).toContain("restore point");
  expect(attached.code).toBe(0);
  // the shell variable continued from where it was: a fresh start would count from 1
  const after = env.counter();
  expect(after).toBeGreaterThanOrEqual(before);
  const now = await env.snapshot();
  expect(now.containers).toEqual(original.containers);
  expect(now.volumes).toEqual(original.volumes);
  expect(env.sh(["podman", "exec", env.db, "sh", "-c", "cat /data/known.txt; stat -c '%a %u' /data/pg; readlink /data/link"])).toBe("hello devx\n700 999\nknown.txt\n");

  // undo returns to the restore point: the empty machine
  const undone = await env.cli(["state", "undo", "-y"]);
  expect(undone.code).toBe(0);
  expect(await env.snapshot()).toEqual({ containers: [], volumes: {} });
}

full("full share to a real S3 server, wipe, attach -y: the counter continues and the volume matches; undo", async () => {
  s3 = await startS3Server();
  const server = s3;
  const env = makeEnv("s3", () => `state:\n  relay: s3://${server.bucket}/teams/a\n  endpoint: ${server.endpoint}\n  path_style: true\n  region: ${server.region}\n`);
  envs.push(env);
  await roundTrip(env, { AWS_ACCESS_KEY_ID: server.accessKeyId, AWS_SECRET_ACCESS_KEY: server.secretAccessKey });
});

full("full share through file://, then attach: no TTY without -y is a usage error, --dry-run changes nothing", async () => {
  const env = makeEnv("file");
  envs.push(env);
  const relay = pathToFileURL(join(env.dir, "relay dir")).href;
  env.start();
  await counterAtLeast(env, 5);
  const shared = await env.cli(["state", "share", "--relay", relay]);
  expect(shared.code).toBe(0);
  const id = /^\s+(file:\/\/\S+)$/m.exec(shared.out)![1]!;
  expect(shared.out).toContain(`devx state attach '${id}'`);
  const state = await env.snapshot();

  const noTty = await env.cli(["state", "attach", id]);
  expect(noTty.code).toBe(2);
  expect(noTty.err).toContain("-y");
  const dry = await env.cli(["state", "attach", "--dry-run", id]);
  expect(dry.code).toBe(0);
  expect(dry.out).toContain(`stop and replace  container ${env.app}`);
  expect(dry.out).toContain(`replace           volume ${env.volume}`);
  expect(dry.out).toContain(`restore           container ${env.db}`);
  const declined = await env.cli(["state", "attach", id], { tty: true, answers: ["n"] });
  expect(declined.code).toBe(130);
  expect(await env.snapshot()).toEqual(state);

  env.wipe();
  // the scope of an attach is decided here: a directory without devx.yaml is the project of its own
  // name (one rule for every command), so the bundle's project does not match and it is refused;
  // and another project's container is never touched
  const bystander = `${env.project}x-other`;
  env.sh(["podman", "run", "-d", "--name", bystander, "--label", "devx.managed=true", "--label", `devx.project=${env.project}x`, BUSYBOX_IMAGE, "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.2; done"]);
  try {
    const elsewhere = mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "no-project-"));
    const before = env.sh(["podman", "inspect", "--format", "{{.Id}} {{.State.StartedAt}}", bystander]);
    const outside = await env.cli(["state", "attach", "-y", id], { cwd: elsewhere });
    expect(outside.code).toBe(5);
    expect(outside.err).toMatch(/is of project .*, and this directory is project no-project-/);
    const r = await env.cli(["state", "attach", "-y", id]);
    expect(r.err + `exit ${r.code}`).toEndWith("exit 0");
    expect(env.sh(["podman", "inspect", "--format", "{{.Id}} {{.State.StartedAt}}", bystander])).toBe(before);
  } finally {
    env.sh(["podman", "rm", "-f", "-t", "0", bystander]);
  }
  expect(env.counter()).toBeGreaterThanOrEqual(5);
  expect((await env.snapshot()).volumes).toEqual(state.volumes);
});

ptest("db-only share: the database volume comes back into a changed machine and its container runs again", async () => {
  const env = makeEnv("dbo");
  envs.push(env);
  env.start();
  const relay = pathToFileURL(join(env.dir, "relay")).href;
  const original = await env.snapshot();
  const shared = await env.cli(["state", "share", "--db-only", "--relay", relay, "--json", "--words", "5"]);
  expect(shared.code).toBe(0);
  const doc = JSON.parse(shared.out) as { id: string; mode: string; containers: string[]; databases: string[] };
  expect(doc).toMatchObject({ mode: "db-only", containers: [], databases: [env.volume] });
  expect(doc.id.split(":").pop()!.split("-")).toHaveLength(5);
  // the database was stopped for the export and is running again
  expect((await env.snapshot()).containers).toEqual(original.containers);

  env.sh(["podman", "exec", env.db, "sh", "-c", "echo changed > /data/known.txt; rm -rf /data/pg; echo new > /data/extra"]);
  expect((await env.snapshot()).volumes).not.toEqual(original.volumes);
  const attached = await env.cli(["state", "attach", "-y", doc.id]);
  expect(attached.code).toBe(0);
  const now = await env.snapshot();
  expect(now.volumes).toEqual(original.volumes);
  expect(now.containers).toEqual(original.containers);
  expect(env.sh(["podman", "exec", env.db, "ls", "/data"])).toBe("known.txt\nlink\npg\n");
});

ptest("share without a relay says the bundle stays on this machine, and on a terminal asks for one", async () => {
  const env = makeEnv("norelay");
  envs.push(env);
  env.start();
  const quiet = await env.cli(["state", "share", "--db-only", "--json"]);
  expect(quiet.code).toBe(0);
  expect(quiet.err).toContain("no relay is configured: the bundle stays on this machine");
  expect((JSON.parse(quiet.out) as { relay: string }).relay).toStartWith(pathToFileURL(join(env.stateDir, "state", "relay")).href);
  const team = pathToFileURL(join(env.dir, "team bucket")).href;
  const asked = await env.cli(["state", "share", "--db-only", "--json"], { tty: true, answers: [team] });
  expect(asked.code).toBe(0);
  expect(asked.err).toContain("No relay is configured");
  expect((JSON.parse(asked.out) as { relay: string }).relay).toBe(team);
  const dry = await env.cli(["state", "share", "--db-only", "--dry-run"], { tty: true, answers: [] });
  expect(dry.code).toBe(0);
  expect(dry.out).toContain("would share (db-only)");
});
