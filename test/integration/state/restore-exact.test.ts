import { afterAll, expect, setDefaultTimeout } from "bun:test";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { podmanAvailable } from "../../support/images.ts";
import { testWith } from "../../support/require.ts";
import { makeEnv, type Env } from "./fixture.ts";

/**
 * Undo and rollback return a volume exactly as it was, not a copy of its content: a 1 GiB sparse
 * file stays sparse (an export and import would bring it back fully allocated), a hard link stays
 * one inode, the data directory keeps its mode. The content was set aside in the restore point,
 * not exported.
 */
setDefaultTimeout(300_000);
const ptest = testWith("podman", podmanAvailable());
const envs: Env[] = [];
afterAll(() => envs.forEach((e) => e.wipe()));

/** allocated KiB of the sparse file, link count of the hard link, content digest of the volume */
function shape(env: Env): { sparseKiB: number; links: string; known: string } {
  const out = env.sh(["podman", "exec", env.db, "sh", "-c", "du -k /data/sparse | cut -f1; stat -c %h /data/known.txt; cat /data/known.txt"]).trim().split("\n");
  return { sparseKiB: Number(out[0]), links: out[1]!, known: out[2]! };
}

async function withSparseLocalState(tag: string): Promise<{ env: Env; id: string; before: ReturnType<typeof shape>; snap: Awaited<ReturnType<Env["snapshot"]>> }> {
  const env = makeEnv(tag);
  envs.push(env);
  env.start();
  const shared = await env.cli(["state", "share", "--db-only", "--relay", pathToFileURL(join(env.dir, "relay")).href, "--json"]);
  expect(shared.code).toBe(0);
  // this machine's work since the share: a sparse 1 GiB file, a hard link, changed content
  env.sh(["podman", "exec", env.db, "sh", "-c", "truncate -s 1G /data/sparse && echo 'local work' > /data/known.txt && ln /data/known.txt /data/known.hard"]);
  const before = shape(env);
  expect(before.sparseKiB).toBeLessThan(1024);
  expect(before.links).toBe("2");
  return { env, id: (JSON.parse(shared.out) as { id: string }).id, before, snap: await env.snapshot() };
}

ptest("attach then undo: the sparse file comes back sparse, the hard link one inode", async () => {
  const { env, id, before, snap } = await withSparseLocalState("sparse");
  const attached = await env.cli(["state", "attach", "-y", id]);
  expect(attached.code).toBe(0);
  expect(attached.err).toContain("its content is kept aside for undo");
  expect(env.sh(["podman", "exec", env.db, "cat", "/data/known.txt"])).toBe("hello devx\n");
  const undone = await env.cli(["state", "undo", "-y"]);
  expect(undone.code).toBe(0);
  expect(shape(env)).toEqual(before);
  expect(await env.snapshot()).toEqual(snap);
});

ptest("a failed apply rolls back to the same exact volume", async () => {
  const { env, id, before, snap } = await withSparseLocalState("sparserb");
  const r = await env.cli(["state", "attach", "-y", id], {
    faultPoint: (p) => {
      // the volume's content was set aside and the bundle's imported: fail at the next step
      if (p === "apply:3") throw new Error(`injected failure at ${p}`);
    },
  });
  expect(r.err).toContain("rolled back, nothing was changed");
  expect(r.code).not.toBe(0);
  expect(shape(env)).toEqual(before);
  expect(await env.snapshot()).toEqual(snap);
});
