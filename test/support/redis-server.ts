import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ephemeralPort } from "../../src/platform/ports.ts";

/** Is Debian's redis-server installed here? (CI installs it; `DEVX_TEST_REQUIRE=redis` makes its absence fail) */
export const redisAvailable = () => !!Bun.which("redis-server");

export interface RedisServer {
  url: string;
  stop(): Promise<void>;
}

/** A real redis-server on 127.0.0.1 and a free port, no persistence, in its own temp dir. */
export async function startRedis(): Promise<RedisServer> {
  const port = await ephemeralPort();
  const dir = mkdtempSync(join(process.env.DEVX_TEST_ROOT ?? "/tmp", "redis-"));
  const p = Bun.spawn(["redis-server", "--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "yes"], { stdout: "pipe", stderr: "pipe" });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {}, open(s) { s.end(); } } }).then(() => true, () => false);
    if (ok) break;
    if (Date.now() > deadline || p.exitCode !== null) throw new Error(`redis-server did not start: ${await new Response(p.stderr).text()}`);
    await Bun.sleep(20);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    async stop() {
      p.kill();
      await p.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
