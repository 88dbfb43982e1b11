import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { ensureBinary } from "../support/binary.ts";
import { ensureBusyboxImage, podmanAvailable } from "../support/images.ts";
import { required } from "../support/require.ts";
import { commands } from "../../src/cli/commands/index.ts";
import { fieldMeta, type Command } from "../../src/cli/define.ts";

/**
 * `--dry-run` changes nothing, on every command: each registered command (walked from the registry,
 * so a new one is covered without touching this file) runs through the compiled binary with
 * --dry-run and -y (so nothing waits for a confirmation) in a sandbox holding a live environment —
 * a running `devx up`, a database container with its volume, a checkpoint, a db snapshot, a share —
 * and afterwards the sandbox's files, the project's containers and volumes, and the processes that
 * belong to the sandbox are exactly as before.
 */
const id = `${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
const project = `dryrun-${id}`;
const sandbox = mkdtempSync(join(tmpdir(), "devx-dryrun-"));
const home = join(sandbox, "home");
const devxHome = join(sandbox, "devx");
const proj = join(sandbox, "proj");
const relayDir = join(sandbox, "relay");
const touched = join(proj, "touched-by-run");
const withPodman = podmanAvailable();
let shareId = "";
let bin = "";

const env = (): Record<string, string> => {
  const e: Record<string, string> = {};
  for (const [k, val] of Object.entries(process.env)) if (val !== undefined && !k.startsWith("XDG_")) e[k] = val;
  return { ...e, HOME: home, DEVX_HOME: devxHome, TMPDIR: join(sandbox, "tmp"), NO_COLOR: "1" };
};

async function devx(args: string[], timeoutMs = 60_000): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([bin, ...args], { cwd: proj, env: env(), stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { code, out, err };
}

const sh = (argv: string[]) => {
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString();
};

/**
 * Every file and directory in the sandbox: files by type, mode, size and mtime; directories by mode
 * (a directory's mtime moves when a temp file is made and removed inside it, which leaves nothing).
 */
function files(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = lstatSync(p);
      out.set(p.slice(sandbox.length), st.isDirectory() ? `d ${st.mode.toString(8)}` : `${st.isSymbolicLink() ? "l" : "f"} ${st.mode.toString(8)} ${st.size} ${st.mtimeMs}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(sandbox);
  return out;
}

/** The project's containers (id, state, start time) and volumes, by label and by name. */
function podmanWorld(): string[] {
  if (!withPodman) return [];
  const mine = (labels: Record<string, string> | null | undefined, name: string) => labels?.["devx.project"] === project || name.includes(project);
  const containers = JSON.parse(sh(["podman", "ps", "-a", "--format", "json"])) as Array<{ Id: string; Names: string[]; State: string; StartedAt: number; Labels: Record<string, string> | null }>;
  const volumes = JSON.parse(sh(["podman", "volume", "ls", "--format", "json"])) as Array<{ Name: string; Labels: Record<string, string> | null }>;
  return [
    ...containers.filter((c) => mine(c.Labels, c.Names.join(","))).map((c) => `container ${c.Names.join(",")} ${c.Id.slice(0, 12)} ${c.State} started ${c.StartedAt}`),
    ...volumes.filter((x) => mine(x.Labels, x.Name)).map((x) => `volume ${x.Name}`),
  ].sort();
}

/** Processes whose environment names this sandbox: whatever a command left running. */
function sandboxProcesses(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      if (!readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(`DEVX_HOME=${devxHome}`)) continue;
      out.push(`${pid} ${readFileSync(`/proc/${pid}/cmdline`, "latin1").replaceAll("\0", " ").trim()}`);
    } catch {
      // gone while looking
    }
  }
  return out.sort();
}

/**
 * The fewest arguments each command needs, by placeholder (per command where the generic value
 * cannot work). A new command whose required argument has no sample here fails the test, naming it.
 */
const SAMPLE: Record<string, string[]> = {
  "engine|name": ["cache"],
  node: ["api"],
  name: ["seed"],
  port: ["3000"],
  service: ["api"],
  shell: ["bash"],
  session: ["sample-session"],
  "token-id": ["abcdefabcdef"],
  command: ["true"],
};
const PER_COMMAND: Record<string, () => string[]> = {
  "db spawn": () => ["redis", "--name", "other"],
  "state checkpoint": () => ["fresh"],
  "db snapshot create": () => ["fresh"],
  "state attach": () => [shareId],
  "vm resize": () => ["--cpus", "4"],
  run: () => ["--", "touch", touched],
};

function argsFor(c: Command): string[] {
  const key = c.path.join(" ");
  if (PER_COMMAND[key]) return PER_COMMAND[key]();
  const out: string[] = [];
  for (const s of Object.values(c.options.entries)) {
    const f = fieldMeta(s as v.GenericSchema);
    if (!f || f.meta.kind !== "arg" || !f.meta.required) continue;
    const sample = SAMPLE[f.meta.placeholder ?? ""];
    if (!sample) throw new Error(`no sample value for <${f.meta.placeholder}> of \`devx ${key}\`: add one to SAMPLE or PER_COMMAND in ${import.meta.path}`);
    out.push(...sample);
  }
  return out;
}

beforeAll(async () => {
  if (!withPodman && required("podman")) throw new Error("podman is required (DEVX_TEST_REQUIRE) but not available");
  bin = ensureBinary();
  for (const d of [home, proj, relayDir, join(sandbox, "tmp")]) mkdirSync(d, { recursive: true });
  const port = await freePort();
  writeFileSync(join(proj, "devx.yaml"), [`name: ${project}`, "provider: podman", "env:", "  GREETING: hi", "services:", "  - name: web", "    command: $DEVX_BIN example-service --name web", `    port: ${port}`, "    healthcheck: { http: /health }", ""].join("\n"));
  // a live environment for the commands to (not) change
  const up = await devx(["up", "--detach"]);
  if (up.code !== 0) throw new Error(`devx up --detach: ${up.err}`);
  if (withPodman) {
    const image = ensureBusyboxImage();
    const labels = ["devx.managed=true", `devx.project=${project}`, "devx.kind=database", "devx.engine=redis", "devx.database=cache"].flatMap((l) => ["--label", l]);
    sh(["podman", "volume", "create", ...labels, `devx-${project}-cache-data`]);
    sh(["podman", "run", "-d", "--name", `devx-${project}-cache`, ...labels, "-v", `devx-${project}-cache-data:/data`, image, "sleep", "3600"]);
    // a full checkpoint probes CRIU, which caches what it found (state/host-facts.json): the dry runs
    // below read that cache like any later run does
    for (const seed of [["state", "checkpoint", "seed"], ["db", "snapshot", "create", "seed"]]) {
      const r = await devx(seed);
      if (r.code !== 0) throw new Error(`devx ${seed.join(" ")}: ${r.err}`);
    }
    const share = await devx(["state", "share", "--db-only", "--relay", `file://${relayDir}`, "--json"]);
    if (share.code !== 0) throw new Error(`devx state share: ${share.err}`);
    shareId = JSON.parse(share.out).id;
  } else {
    console.warn("SKIPPING the container part of the dry-run sandbox: podman is not available");
    shareId = "file:///nonexistent/x.devx:abandon-ability-able-about";
  }
}, 180_000);

afterAll(async () => {
  if (bin) await devx(["down"]).catch(() => undefined);
  if (withPodman) {
    Bun.spawnSync(["podman", "rm", "-f", "-t", "0", `devx-${project}-cache`], { stdout: "ignore", stderr: "ignore" });
    for (const vol of sh(["podman", "volume", "ls", "--filter", `label=devx.project=${project}`, "--format", "{{.Name}}"]).split("\n").filter(Boolean)) Bun.spawnSync(["podman", "volume", "rm", "-f", vol], { stdout: "ignore", stderr: "ignore" });
  }
  rmSync(sandbox, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

test(
  "every registered command with --dry-run -y changes no file, container, volume or process",
  async () => {
    const outcomes: string[] = [];
    const changed: string[] = [];
    for (const c of commands) {
      const argv = [...c.path, "--dry-run", "-y", ...argsFor(c)];
      const filesBefore = files();
      const worldBefore = podmanWorld();
      const procsBefore = sandboxProcesses();
      const r = await devx(argv);
      const filesAfter = files();
      const diff = [...new Set([...filesBefore.keys(), ...filesAfter.keys()])].filter((k) => filesBefore.get(k) !== filesAfter.get(k));
      const worldAfter = podmanWorld();
      const procsAfter = sandboxProcesses();
      const label = `devx ${argv.join(" ")}`;
      outcomes.push(`${String(r.code).padStart(3)}  ${label}  ${(r.code === 0 ? r.out : r.err).split("\n")[0]}`);
      if (diff.length) changed.push(`${label}: files ${diff.join(", ")}`);
      if (JSON.stringify(worldBefore) !== JSON.stringify(worldAfter)) changed.push(`${label}: containers/volumes ${JSON.stringify(worldBefore)} → ${JSON.stringify(worldAfter)}`);
      if (JSON.stringify(procsBefore) !== JSON.stringify(procsAfter)) changed.push(`${label}: processes ${JSON.stringify(procsBefore)} → ${JSON.stringify(procsAfter)}`);
      // a dry run that crashes is a bug too, whatever it did not change
      if (r.code === 1) changed.push(`${label}: internal error: ${r.err}`);
    }
    console.log(outcomes.join("\n"));
    expect(changed).toEqual([]);
    expect(existsSync(touched)).toBe(false);
    // the commands that cannot plan refuse --dry-run instead of acting
    expect(outcomes.filter((o) => o.includes("has no --dry-run")).map((o) => /devx (\S+)/.exec(o)![1])).toEqual(["example-service", "agent", "bridge-agent", "runner"]);
  },
  600_000,
);

test("the plans that need a live environment were printed, not refused", async () => {
  if (!withPodman) return;
  const plan = async (args: string[]) => {
    const r = await devx(["--dry-run", "-y", ...args]);
    expect(`${args.join(" ")} → ${r.code} ${r.err}`).toBe(`${args.join(" ")} → 0 `.replace(/ $/, " "));
    return r.out;
  };
  expect(await plan(["run", "--", "touch", touched])).toStartWith(`would run: touch ${touched}\n`);
  expect(await plan(["down"])).toStartWith(`would stop ${project} (supervisor pid `);
  expect(await plan(["db", "rm", "cache", "--volume"])).toStartWith(`would remove container devx-${project}-cache, volume devx-${project}-cache-data`);
  expect(await plan(["state", "checkpoint", "fresh", "--db-only"])).toBe(`would checkpoint (db-only) as checkpoint fresh:\n  stop and start  container devx-${project}-cache\n  export          volume devx-${project}-cache-data\n`);
  // the plan once, on stdout (not again on stderr), its columns aligned
  const restore = await devx(["state", "restore", "seed", "--dry-run"]);
  expect(restore.err).toBe("");
  expect(restore.out).toMatch(new RegExp(`^plan, nothing changed \\(--dry-run\\):\n  stop and replace  container devx-${project}-cache \\(.*\\)\n  replace           volume devx-${project}-cache-data \\([\\d.]+ (B|KiB|MiB)\\); its content is kept aside for undo\n`));
  expect(existsSync(touched)).toBe(false);
});
