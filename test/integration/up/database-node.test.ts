import { afterAll, expect } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../../src/cli/main.ts";
import { memoryIO } from "../../../src/cli/io.ts";
import type { DevxEvent } from "../../../src/events/types.ts";
import { testWith } from "../../support/require.ts";
import { podmanAvailable } from "../../support/images.ts";
import { dbTestImage, DB_IMAGE_BUILD_TIMEOUT_MS } from "../../support/db-images.ts";
import { freePort } from "./helpers.ts";

const podman = podmanAvailable();
const dir = mkdtempSync(join(tmpdir(), "devx-up-db-"));
const project = `updb-${process.pid}-${Date.now() % 100000}`;
const sh = (argv: string[]) => Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" }).stdout.toString().trim();
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  if (!podman) return;
  const ids = sh(["podman", "ps", "-aq", "--filter", `label=devx.project=${project}`]).split("\n").filter(Boolean);
  if (ids.length) sh(["podman", "rm", "-f", "-t", "0", ...ids]);
  const vols = sh(["podman", "volume", "ls", "-q", "--filter", `label=devx.project=${project}`]).split("\n").filter(Boolean);
  if (vols.length) sh(["podman", "volume", "rm", "-f", ...vols]);
}, 60_000);

testWith("podman", podman)(
  "a postgres database node (real podman): DATABASE_URL with generated credentials reaches the dependent, a real query works, Ctrl-C stops the container",
  async () => {
    const image = await dbTestImage("postgres");
    const port = await freePort();
    writeFileSync(
      join(dir, "devx.yaml"),
      [
        `name: ${project}`,
        "databases:",
        "  - engine: postgres",
        `    image: ${image}`,
        `    port: ${port}`,
        "services:",
        "  - name: app",
        `    command: echo "$DATABASE_URL" > ${dir}/app-env; exec sleep 300`,
        `    healthcheck: { exec: "test -s ${dir}/app-env" }`,
        "    depends_on: { postgres: { condition: service_healthy } }",
      ].join("\n"),
    );
    const ctl = new AbortController();
    let answer: unknown;
    const emit = (e: DevxEvent) => {
      if (e.type === "step" && e.id === "up" && e.status === "done") {
        const url = readFileSync(join(dir, "app-env"), "utf8").trim();
        const sql = new Bun.SQL(url);
        void sql`select 40 + 2 as n`
          .then((rows: Array<{ n: number }>) => (answer = rows[0]?.n))
          .catch((err: Error) => (answer = err.message))
          .finally(() => sql.close().finally(() => ctl.abort(new DOMException("cancelled", "AbortError"))));
      }
    };
    const io = memoryIO();
    const code = await main(["up"], { io, emit, signal: ctl.signal, cwd: dir });
    expect(io.stderr()).toBe("");
    expect(code).toBe(130);
    const url = readFileSync(join(dir, "app-env"), "utf8").trim();
    expect(url).toMatch(new RegExp(`^postgres(ql)?://[^:]+:[^@]+@127\\.0\\.0\\.1:${port}/`));
    expect(url).not.toContain("devx:devx@");
    expect(answer).toBe(42);
    // stopped (kept for the next up, with its volume), not running
    expect(sh(["podman", "ps", "-q", "--filter", `label=devx.project=${project}`])).toBe("");
  },
  DB_IMAGE_BUILD_TIMEOUT_MS,
);
