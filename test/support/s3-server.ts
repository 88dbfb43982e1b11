/**
 * A real S3-compatible server (s3rver, a devDependency) on 127.0.0.1 for integration tests.
 * It runs under node with --openssl-legacy-provider (paginated listing fails without it), in its
 * own temp dir, on a free port chosen by the kernel. Readiness is the server printing its bound
 * address after the bucket exists: no sleeps, no polling.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface S3Server {
  endpoint: string;
  bucket: string;
  region: string;
  /** s3rver's fixed credentials; pass them through env or client config, never argv */
  accessKeyId: string;
  secretAccessKey: string;
  /** the directory s3rver stores objects in */
  directory: string;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const SCRIPT = `
const S3rver = require("s3rver");
const server = new S3rver({
  address: "127.0.0.1",
  port: 0,
  silent: true,
  directory: process.env.S3_DIR,
  configureBuckets: [{ name: process.env.S3_BUCKET }],
});
server.run().then(
  (addr) => process.stdout.write(JSON.stringify({ port: addr.port }) + "\\n"),
  (err) => { console.error(err); process.exit(1); },
);
process.stdin.on("end", () => server.close().finally(() => process.exit(0)));
process.stdin.resume();
`;

export async function startS3Server(opts: { bucket?: string } = {}): Promise<S3Server> {
  const bucket = opts.bucket ?? `devx-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const directory = mkdtempSync(join(process.env.DEVX_TEST_ROOT ?? tmpdir(), "s3rver-"));
  const modulesDir = join(import.meta.dir, "..", "..", "node_modules");
  // stdin is a pipe held by this process: when the test process dies the server sees EOF and exits.
  const child = Bun.spawn(["node", "--openssl-legacy-provider", "-e", SCRIPT], {
    cwd: modulesDir,
    env: { ...process.env, NODE_PATH: modulesDir, S3_DIR: directory, S3_BUCKET: bucket },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) {
      const err = await new Response(child.stderr).text();
      rmSync(directory, { recursive: true, force: true });
      throw new Error(`s3rver did not start: ${err.trim() || "exited"}`);
    }
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  const { port } = JSON.parse(text.trim()) as { port: number };
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      child.stdin.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await child.exited;
      clearTimeout(timer);
      rmSync(directory, { recursive: true, force: true });
    })());
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    region: "us-east-1",
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    directory,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
