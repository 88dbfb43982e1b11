import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCli } from "../../../src/cli/run.ts";
import { memoryIO } from "../../../src/cli/io.ts";
import { startS3Server, type S3Server } from "../../support/s3-server.ts";

setDefaultTimeout(60_000);
let s3: S3Server | undefined;
afterAll(async () => s3?.stop());

async function doctor(yaml: string, env: Record<string, string>) {
  const dir = mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "doctor-relay-"));
  writeFileSync(join(dir, "devx.yaml"), yaml);
  const io = memoryIO();
  const code = await runCli(["doctor", "--json"], { io, cwd: dir, env: { ...process.env, ...env } });
  const doc = JSON.parse(io.stdout()) as { checks: Array<{ id: string; status: string; detail?: string }> };
  return { code, relay: doc.checks.find((c) => c.id === "relay") };
}

test("doctor checks an s3:// relay through the real relay: reachable → ok, nothing listening → exit 8", async () => {
  s3 = await startS3Server();
  const creds = { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey };
  const ok = await doctor(`name: doc\nstate:\n  relay: s3://${s3.bucket}/devx\n  endpoint: ${s3.endpoint}\n  path_style: true\n`, creds);
  expect(ok.relay?.status).toBe("ok");
  expect(ok.code).toBe(0);
  const down = await doctor(`name: doc\nstate:\n  relay: s3://${s3.bucket}/devx\n  endpoint: http://127.0.0.1:9\n  path_style: true\n`, creds);
  expect(down.relay?.status).toBe("fail");
  expect(down.relay?.detail).toMatch(/unreachable/);
  expect(down.code).toBe(8);
});
