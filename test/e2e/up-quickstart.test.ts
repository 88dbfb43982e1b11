import { afterAll, expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, ensureBinary, runBinary } from "../support/binary.ts";
import { pidAlive } from "../../src/platform/atomic.ts";
import { testWith } from "../support/require.ts";
import { podmanAvailable } from "../support/images.ts";
import { dbTestImage, DB_IMAGE_BUILD_TIMEOUT_MS } from "../support/db-images.ts";

const dir = mkdtempSync(join(tmpdir(), "devx-quickstart-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("the README command: the compiled binary brings the quick start up healthy, prints the status, and stops it", async () => {
  const r = await runBinary(["up", "-f", "examples/quickstart/devx.yaml", "--exit-when-healthy"], { cwd: ROOT });
  expect(r.stderr).toContain("✓ 2 nodes up in");
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/^NAME +RUNTIME +STATE +HEALTH +PORT +RESTARTS +UPTIME +DEPENDS ON\nworker +host +healthy +healthy +\d+.*\napi +host +healthy +healthy +\d+.* worker\n$/);
  expect(r.stderr).toContain("api        | api listening on http://127.0.0.1:");
  expect(r.stderr).toContain("✓ stopped everything");
});

test("the quick start README's commands work as written (-f is --file on every command, logs included)", async () => {
  const readme = readFileSync(join(ROOT, "examples/quickstart/README.md"), "utf8");
  const block = readme.split("```sh\n")[2]!.split("```")[0]!;
  const lines = block.split("\n").map((l) => l.replace(/\s+#.*$/, "").trim()).filter(Boolean);
  expect(lines.map((l) => l.split(" ")[1])).toEqual(["up", "ps", "logs", "run", "down"]);
  const bin = ensureBinary();
  const outputs: string[] = [];
  try {
    for (const line of lines) {
      const p = Bun.spawn(["bash", "-c", line.replace(/^\.\/dist\/devx/, bin)], { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
      const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      expect(`${line} → ${code}\n${err}`).toStartWith(`${line} → 0\n`);
      outputs.push(out);
    }
  } finally {
    await runBinary(["down", "-f", "examples/quickstart/devx.yaml"], { cwd: ROOT });
  }
  expect(outputs[1]).toMatch(/\nworker +host +healthy/);
  expect(outputs[2]).toMatch(/^(api|worker) +\| /m);
  expect(outputs[3]).toContain('"service":"api"');
});

test("--detach, ps --json, the api calling its dependency, run, logs, down: all through the binary", async () => {
  cpSync(join(ROOT, "examples/quickstart/devx.yaml"), join(dir, "devx.yaml"));
  const up = await runBinary(["up", "--detach", "--json"], { cwd: dir });
  expect(up.code).toBe(0);
  const { supervisor, nodes } = JSON.parse(up.stdout) as { supervisor: number; nodes: Array<{ name: string; health: string; port: number; pid: number }> };
  expect(nodes.map((n) => [n.name, n.health])).toEqual([["worker", "healthy"], ["api", "healthy"]]);
  expect(pidAlive(supervisor)).toBe(true);
  try {
    const ps = await runBinary(["ps", "--json"], { cwd: dir });
    const st = JSON.parse(ps.stdout) as { running: boolean; nodes: Array<{ name: string; state: string; uptimeMs: number }> };
    expect(st.running).toBe(true);
    expect(st.nodes.map((n) => n.state)).toEqual(["healthy", "healthy"]);

    const api = nodes.find((n) => n.name === "api")!;
    const worker = nodes.find((n) => n.name === "worker")!;
    const body = (await (await fetch(`http://127.0.0.1:${api.port}/`)).json()) as { service: string; upstream: { service: string } };
    expect(body.service).toBe("api");
    expect(body.upstream.service).toBe("worker");

    // the top-level env: that up injects into every service reaches `devx run` too
    const run = await runBinary(["run", "--", "sh", "-c", 'echo "$API_URL $WORKER_PORT $GREETING"; exit 7'], { cwd: dir });
    expect(run.code).toBe(7);
    expect(run.stdout).toBe(`http://127.0.0.1:${api.port} ${worker.port} hello from the quick start\n`);

    const shell = await runBinary(["shell"], { cwd: dir, env: { SHELL: "/bin/sh" }, input: 'echo "$API_URL $DEVX_SHELL"; exit 3\n' });
    expect(shell.code).toBe(3);
    expect(shell.stdout).toBe(`http://127.0.0.1:${api.port} 1\n`);
    expect(shell.stderr).toContain("devx shell (host):");

    const logs = await runBinary(["logs", "api", "--grep", "listening"], { cwd: dir });
    expect(logs.code).toBe(0);
    expect(logs.stdout).toBe(`api | api listening on http://127.0.0.1:${api.port} (upstream http://127.0.0.1:${worker.port})\n`);

    // like `docker compose up -d`: the same config again is a no-op success; another selection is a conflict
    const again = await runBinary(["up", "--detach", "--json"], { cwd: dir });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ supervisor, alreadyRunning: true });
    const other = await runBinary(["up", "--detach", "worker"], { cwd: dir });
    expect(other.code).toBe(5);
    expect(other.stderr).toContain(`devx up is already running for quickstart (pid ${supervisor}) with a different devx.yaml, profile or selection`);

    // --dry-run while it runs: the plan, on the ports the nodes hold (no "busy" shifts)
    const plan = await runBinary(["up", "--dry-run", "--json"], { cwd: dir });
    expect(plan.code).toBe(0);
    const planned = (JSON.parse(plan.stdout) as { plan: { nodes: Array<{ name: string; port: number }> } }).plan.nodes;
    expect(planned.map((n) => [n.name, n.port])).toEqual([["worker", worker.port], ["api", api.port]]);

    // one node at a time, as the dashboard does it
    const stop = await runBinary(["stop", "api"], { cwd: dir });
    expect(stop.code).toBe(0);
    expect(stop.stderr).toBe("stopped api\n");
    expect(await fetch(`http://127.0.0.1:${api.port}/`).then(() => "open", () => "closed")).toBe("closed");
    expect(pidAlive(api.pid)).toBe(false);
    const start = await runBinary(["start", "api"], { cwd: dir });
    expect(start.code).toBe(0);
    expect(start.stderr).toBe(`started api (healthy on port ${api.port})\n`);
    const dry = await runBinary(["restart", "api", "--dry-run", "--json"], { cwd: dir });
    const before = (JSON.parse(dry.stdout) as { nodes: Array<{ pid: number }> }).nodes[0]!.pid;
    const restart = await runBinary(["restart", "api", "--json"], { cwd: dir });
    expect(restart.code).toBe(0);
    const after = (JSON.parse(restart.stdout) as { nodes: Array<{ name: string; state: string; pid: number }> }).nodes[0]!;
    expect(after).toMatchObject({ name: "api", state: "healthy" });
    expect(pidAlive(before)).toBe(false);
    expect(after.pid).not.toBe(before);
    const typo = await runBinary(["restart", "apj"], { cwd: dir });
    expect(typo.code).toBe(4);
    expect(typo.stderr).toContain('no node named "apj" in the running devx up of quickstart');
    expect(typo.stderr).toContain('hint: did you mean "api"?');
  } finally {
    const down = await runBinary(["down", "--json"], { cwd: dir });
    expect(down.code).toBe(0);
    expect(JSON.parse(down.stdout)).toMatchObject({ project: "quickstart", running: true, pid: supervisor });
  }
  expect(pidAlive(supervisor)).toBe(false);
  for (const n of nodes) expect(pidAlive(n.pid)).toBe(false);
  const ps = await runBinary(["ps", "--json"], { cwd: dir });
  expect(JSON.parse(ps.stdout)).toEqual({ running: false, nodes: [] });
});

test("devx shell --dry-run with a devcontainer: the image through the runtime, host network, env names only in argv", async () => {
  const d = mkdtempSync(join(dir, "dc-"));
  mkdirSync(join(d, ".devcontainer"));
  writeFileSync(join(d, "devx.yaml"), "name: dc\nenv: { }\n");
  writeFileSync(join(d, ".devcontainer", "devcontainer.json"), '{\n  // JSONC\n  "image": "localhost/devx-test-busybox:1",\n}\n');
  const r = await runBinary(["shell", "--dry-run", "--json"], { cwd: d });
  expect(r.code).toBe(0);
  const plan = JSON.parse(r.stdout) as { kind: string; argv: string[] };
  expect(plan.kind).toBe("devcontainer");
  expect(plan.argv.slice(1, 6)).toEqual(["run", "--rm", "-i", "--network", "host"]);
  expect(plan.argv).toContain(`${d}:/workspaces/${d.split("/").pop()}`);
  expect(plan.argv.slice(-2)).toEqual(["localhost/devx-test-busybox:1", "/bin/sh"]);
  expect(plan.argv.join(" ")).not.toContain("=");
});

test("a killed supervisor: `devx down` stops the process groups its record lists", async () => {
  const d = mkdtempSync(join(dir, "killed-"));
  cpSync(join(ROOT, "examples/quickstart/devx.yaml"), join(d, "devx.yaml"));
  const up = await runBinary(["up", "--detach", "--json"], { cwd: d });
  expect(up.code).toBe(0);
  const { supervisor, nodes } = JSON.parse(up.stdout) as { supervisor: number; nodes: Array<{ pid: number }> };
  process.kill(supervisor, "SIGKILL");
  while (pidAlive(supervisor)) await Bun.sleep(10);
  for (const n of nodes) expect(pidAlive(n.pid)).toBe(true);
  const down = await runBinary(["down", "--json"], { cwd: d });
  expect(down.code).toBe(0);
  const r = JSON.parse(down.stdout) as { running: boolean; staleRemoved: boolean; leftovers: string[] };
  expect(r).toMatchObject({ running: false, staleRemoved: true });
  expect(r.leftovers.sort()).toEqual(nodes.map((n) => `process group ${n.pid}`).sort());
  for (const n of nodes) expect(pidAlive(n.pid)).toBe(false);
});

testWith("podman", podmanAvailable())(
  "the with-redis profile: a redis container node (offline test image in place of docker.io's) healthy by `redis-cli ping` inside it, removed after",
  async () => {
    const image = await dbTestImage("redis");
    const d = mkdtempSync(join(dir, "redis-"));
    writeFileSync(join(d, "devx.yaml"), readFileSync(join(ROOT, "examples/quickstart/devx.yaml"), "utf8").replace("docker.io/library/redis:7-alpine", image).replace("name: quickstart", `name: qs-redis-${process.pid}`));
    const r = await runBinary(["up", "--profile", "with-redis", "--exit-when-healthy"], { cwd: d });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\nredis +container +healthy +healthy +\d+/);
    expect(r.stderr).toContain("✓ 3 nodes up in");
    const left = Bun.spawnSync(["podman", "ps", "-aq", "--filter", `label=devx.project=qs-redis-${process.pid}`], { stdout: "pipe" }).stdout.toString().trim();
    expect(left).toBe("");
  },
  DB_IMAGE_BUILD_TIMEOUT_MS,
);

test("on a terminal, foreground up draws a live status table that is redrawn in place under the log lines", async () => {
  const bin = ensureBinary();
  // `script` gives the binary a pseudo-terminal (util-linux, essential on Debian)
  const p = Bun.spawn(["script", "-qec", `${bin} up -f examples/quickstart/devx.yaml --exit-when-healthy`, "/dev/null"], { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1", TERM: "xterm" } });
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  expect(code).toBe(0);
  expect(out).toContain("NAME    RUNTIME  STATE");
  // cursor up over the 3 table lines, clear, redraw: the table stays at the bottom
  expect(out).toContain("\x1b[3A\x1b[J");
  expect(out).toMatch(/\x1b\[3A\x1b\[J(worker|api) +\| (worker|api) listening/);
  expect(out).not.toMatch(/^worker: starting/m);
});
