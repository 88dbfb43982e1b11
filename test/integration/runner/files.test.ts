import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FRAME } from "../../../src/session/protocol/index.ts";
import { startInProcess, upload, type Client, type TestRunner } from "./harness.ts";

/** The file API on a real workspace, over the socket and over HTTP, with hostile paths. */
let r: TestRunner;
let outside: string;
beforeAll(async () => {
  r = await startInProcess();
  outside = realpathSync(mkdtempSync(join(tmpdir(), "devx-runner-outside-")));
  writeFileSync(join(outside, "secret.txt"), "OUTSIDE");
  symlinkSync(outside, join(r.workspace, "out-dir"));
  symlinkSync(join(outside, "secret.txt"), join(r.workspace, "out-file"));
  symlinkSync("../../", join(r.workspace, "up"));
  mkdirSync(join(r.workspace, "in"));
  writeFileSync(join(r.workspace, "in/ok.txt"), "inside");
  symlinkSync("in", join(r.workspace, "rel-in"));
  symlinkSync(join(r.workspace, "in"), join(r.workspace, "abs-in"));
});
afterAll(async () => {
  await r.close();
  rmSync(outside, { recursive: true, force: true });
});

async function readAll(c: Client, path: string, fields: Record<string, unknown> = {}): Promise<Buffer> {
  const res = await c.ok("fs.read", { path, ...fields });
  const stream = res.stream as number;
  const end = await c.waitMessage((m) => m.t === "stream.end" && m.stream === stream, 20000, `stream ${stream} to end`);
  const data = c.bytes(FRAME.streamData, stream);
  expect(data.length).toBe(end.bytes as number);
  return Buffer.from(data);
}

const http = (path: string, init: RequestInit & { token?: string | null } = {}) => {
  const headers = new Headers(init.headers);
  if (init.token !== null) headers.set("authorization", `Bearer ${init.token ?? r.token({ scopes: ["files"] })}`);
  return fetch(`${r.url}/v1/files/${path}`, { ...init, headers });
};

describe("files over the socket", () => {
  test("write, read back, list and stat, binary-safe", async () => {
    const c = await r.connect();
    const every = new Uint8Array(256).map((_, i) => i);
    await c.ok("fs.write", { path: "bin/all-bytes", data: Buffer.from(every).toString("base64"), parents: true, mode: 0o640 });
    expect([...(await readAll(c, "bin/all-bytes"))]).toEqual([...every]);
    expect((await readAll(c, "bin/all-bytes", { offset: 250, length: 3 })).toJSON().data).toEqual([250, 251, 252]);
    const st = (await c.ok("fs.stat", { path: "bin/all-bytes" })).stat as Record<string, unknown>;
    expect(st).toMatchObject({ name: "all-bytes", type: "file", size: 256, mode: 0o640 });
    symlinkSync("all-bytes", join(r.workspace, "bin/link"));
    mkdirSync(join(r.workspace, "bin/sub"));
    const list = (await c.ok("fs.list", { path: "bin" })).entries as Record<string, unknown>[];
    expect(list.map((e) => [e.name, e.type])).toEqual([["all-bytes", "file"], ["link", "symlink"], ["sub", "dir"]]);
    expect(list[1]!.target).toBe("all-bytes");
    c.close();
  });

  test("large files stream in chunks both ways", async () => {
    const c = await r.connect();
    const data = randomBytes(12 * 1024 * 1024 + 7);
    const w = await upload(c, "large/blob", data, { chunk: 512 * 1024, parents: true });
    expect(w.sha256).toBe(createHash("sha256").update(data).digest("hex"));
    const res = await c.ok("fs.read", { path: "large/blob" });
    expect(res.size).toBe(data.length);
    await c.waitMessage((m) => m.t === "stream.end" && m.stream === res.stream, 20000);
    const frames = c.frames(FRAME.streamData, res.stream as number);
    expect(Buffer.concat(frames).equals(data)).toBe(true);
    expect(frames.length).toBeGreaterThan(100);
    expect(Math.max(...frames.map((f) => f.length))).toBeLessThanOrEqual(64 * 1024);
    c.close();
  });

  test("a streamed write that delivers less than announced writes nothing; the old file stays whole", async () => {
    const c = await r.connect();
    await c.ok("fs.write", { path: "keep.txt", data: Buffer.from("old").toString("base64") });
    const open = await c.ok("fs.write", { path: "keep.txt", size: 10 });
    c.ws.send(new Uint8Array([FRAME.streamData, 0, 0, 0, open.stream as number, 65, 66]));
    expect(await c.request("stream.end", { stream: open.stream })).toMatchObject({ t: "err", code: "bad-request" });
    expect(readFileSync(join(r.workspace, "keep.txt"), "utf8")).toBe("old");
    expect(readdirSync(r.workspace).filter((n) => n.includes("devx-"))).toEqual([]);
    c.close();
  });

  test("mkdir, rename (refusing to overwrite unless asked), delete (recursive on request)", async () => {
    const c = await r.connect();
    await c.ok("fs.mkdir", { path: "m/n/o", parents: true });
    expect(await c.request("fs.mkdir", { path: "m" })).toMatchObject({ t: "err", code: "exists" });
    await c.ok("fs.write", { path: "m/a", data: "YQ==" });
    await c.ok("fs.write", { path: "m/b", data: "Yg==" });
    expect(await c.request("fs.rename", { from: "m/a", to: "m/b" })).toMatchObject({ t: "err", code: "exists" });
    await c.ok("fs.rename", { from: "m/a", to: "m/b", overwrite: true });
    expect(readFileSync(join(r.workspace, "m/b"), "utf8")).toBe("a");
    expect(await c.request("fs.delete", { path: "m" })).toMatchObject({ t: "err", code: "not-empty" });
    await c.ok("fs.delete", { path: "m", recursive: true });
    expect(existsSync(join(r.workspace, "m"))).toBe(false);
    expect(await c.request("fs.delete", { path: "" })).toMatchObject({ t: "err", code: "bad-request" });
    expect(await c.request("fs.stat", { path: "nope" })).toMatchObject({ t: "err", code: "not-found" });
    c.close();
  });

  test("watch reports creations, changes and deletions under a directory", async () => {
    const c = await r.connect();
    await c.ok("fs.mkdir", { path: "w" });
    const watch = (await c.ok("fs.watch", { path: "w" })).watch as number;
    const seen = (path: string, change: string) => c.waitMessage((m) => m.t === "fs.change" && m.watch === watch && m.path === path && m.change === change, 5000, `${change} ${path}`);
    writeFileSync(join(r.workspace, "w/new.txt"), "1");
    await seen("w/new.txt", "created");
    await Bun.sleep(60); // a separate event, not coalesced with the creation
    writeFileSync(join(r.workspace, "w/new.txt"), "22");
    await seen("w/new.txt", "modified");
    mkdirSync(join(r.workspace, "w/deep"));
    await seen("w/deep", "created");
    writeFileSync(join(r.workspace, "w/deep/f"), "x");
    await seen("w/deep/f", "created");
    await c.ok("fs.delete", { path: "w/new.txt" });
    await seen("w/new.txt", "deleted");
    await c.ok("fs.unwatch", { watch });
    c.close();
  });

  test("a token without the files scope can do nothing with files", async () => {
    const c = await r.connect({ scopes: ["terminal"] });
    for (const [t, f] of [["fs.list", { path: "" }], ["fs.read", { path: "keep.txt" }], ["fs.write", { path: "x", data: "" }], ["fs.delete", { path: "keep.txt" }], ["fs.watch", { path: "" }]] as const) {
      expect(await c.request(t, f)).toMatchObject({ t: "err", code: "forbidden" });
    }
    expect(existsSync(join(r.workspace, "keep.txt"))).toBe(true);
    c.close();
  });
});

describe("paths are confined to the workspace", () => {
  test("escapes are refused on every operation", async () => {
    const c = await r.connect();
    const escapes = ["..", "../x", "a/../../x", "in/../..", "/etc/passwd", "/", "out-dir/secret.txt", "out-file", "up/etc/passwd", "out-dir"];
    for (const path of escapes) {
      for (const [t, f] of [
        ["fs.read", { path }],
        ["fs.list", { path }],
        ["fs.stat", { path: `${path}/x` }],
        ["fs.write", { path, data: "SEFDSw==" }],
        ["fs.write", { path: `${path}/new`, data: "SEFDSw==" }],
        ["fs.mkdir", { path: `${path}/d`, parents: true }],
        ["fs.rename", { from: "in/ok.txt", to: `${path}/stolen` }],
        ["fs.watch", { path }],
      ] as const) {
        const res = await c.request(t, f);
        expect(res.t === "err" ? "refused" : `${t} ${JSON.stringify(f)} was allowed`).toBe("refused");
      }
      expect((await c.request("exec.run", { argv: ["true"], cwd: path })).t).toBe("err");
      expect((await c.request("term.open", { cwd: path })).t).toBe("err");
    }
    // nothing reached the outside directory, and the secret was never read
    expect(readdirSync(outside)).toEqual(["secret.txt"]);
    expect(readFileSync(join(outside, "secret.txt"), "utf8")).toBe("OUTSIDE");
    expect(c.messages.some((m) => JSON.stringify(m).includes("OUTSIDE"))).toBe(false);
    expect(Buffer.concat([...c.data.values()].flat()).includes("OUTSIDE")).toBe(false);
    // the refusals name the escape, not a host path
    expect(await c.request("fs.read", { path: "../x" })).toMatchObject({ code: "escape" });
    expect(await c.request("fs.read", { path: "out-file" })).toMatchObject({ code: "escape" });
    c.close();
  });

  test("links that stay inside work; deleting or renaming a link touches the link, not its target", async () => {
    const c = await r.connect();
    expect((await readAll(c, "rel-in/ok.txt")).toString()).toBe("inside");
    expect((await readAll(c, "abs-in/ok.txt")).toString()).toBe("inside");
    await c.ok("fs.write", { path: "rel-in/through.txt", data: Buffer.from("via link").toString("base64") });
    expect(readFileSync(join(r.workspace, "in/through.txt"), "utf8")).toBe("via link");
    expect(((await c.ok("fs.stat", { path: "out-file", follow: false })).stat as { type: string }).type).toBe("symlink");
    await c.ok("fs.rename", { from: "out-file", to: "renamed-link" });
    await c.ok("fs.delete", { path: "renamed-link" });
    await c.ok("fs.delete", { path: "out-dir" });
    expect(readFileSync(join(outside, "secret.txt"), "utf8")).toBe("OUTSIDE");
    symlinkSync(outside, join(r.workspace, "out-dir"));
    symlinkSync(join(outside, "secret.txt"), join(r.workspace, "out-file"));
    c.close();
  });

  test("a symlink swapped in between check and use never leads out (reads and writes racing a swapper)", async () => {
    // `race` flips between a real directory and a symlink to the outside, as fast as rename(2) goes
    mkdirSync(join(r.workspace, "race-real"));
    writeFileSync(join(r.workspace, "race-real/secret.txt"), "inside");
    symlinkSync(outside, join(r.workspace, "race-evil"));
    const swapper = Bun.spawn(["bash", "-c", "cd \"$1\" && while :; do mv -T race-real race; mv -T race race-real; mv -T race-evil race; mv -T race race-evil; done", "_", r.workspace], { stdout: "ignore", stderr: "ignore" });
    const c = await r.connect();
    const outcomes = new Map<string, number>();
    const note = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
    try {
      for (let i = 0; i < 400; i++) {
        const rd = await c.request("fs.read", { path: "race/secret.txt" });
        if (rd.t === "ok") {
          const end = await c.waitMessage((m) => (m.t === "stream.end" || m.t === "stream.error") && m.stream === rd.stream);
          const got = Buffer.from(c.bytes(FRAME.streamData, rd.stream as number)).toString();
          note(end.t === "stream.end" ? `read:${got}` : "read:error");
        } else note(`read-refused:${rd.code}`);
        const wr = await c.request("fs.write", { path: `race/w${i}.txt`, data: "eA==" });
        note(wr.t === "ok" ? "write:ok" : `write-refused:${wr.code}`);
      }
    } finally {
      swapper.kill();
      await swapper.exited;
    }
    // the race did happen both ways, and never once did anything reach the outside
    expect(outcomes.get("read:inside") ?? 0).toBeGreaterThan(0);
    expect([...outcomes.keys()].filter((k) => k.startsWith("read-refused") || k.startsWith("write-refused")).length).toBeGreaterThan(0);
    expect(outcomes.get("read:OUTSIDE")).toBeUndefined();
    console.log("race outcomes", Object.fromEntries(outcomes));
    expect(readdirSync(outside)).toEqual(["secret.txt"]);
    c.close();
  }, 60000);
});

describe("upload and download over HTTP", () => {
  test("PUT streams a body in, GET streams it out, HEAD gives its size", async () => {
    const data = randomBytes(6 * 1024 * 1024 + 5);
    const put = await http("dl/data.bin?parents=1", { method: "PUT", body: data });
    expect(put.status).toBe(201);
    expect(await put.json()).toEqual({ bytes: data.length, sha256: createHash("sha256").update(data).digest("hex") });
    const get = await http("dl/data.bin");
    expect(get.status).toBe(200);
    expect(get.headers.get("x-devx-size")).toBe(String(data.length));
    expect(get.headers.get("content-disposition")).toContain("data.bin");
    expect(Buffer.from(await get.arrayBuffer()).equals(data)).toBe(true);
    const head = await http("dl/data.bin", { method: "HEAD" });
    expect(head.headers.get("content-length")).toBe(String(data.length));
    await http("dl/small.txt", { method: "PUT", body: "small file" });
    const small = await http("dl/small.txt");
    expect(small.headers.get("content-length")).toBe("10");
    expect(await small.text()).toBe("small file");
    const dir = await http("dl");
    expect(((await dir.json()) as { entries: { name: string }[] }).entries.map((e) => e.name)).toEqual(["data.bin", "small.txt"]);
    const link = await fetch(`${r.url}/v1/files/dl/data.bin?token=${r.token({ scopes: ["files"] })}`);
    expect(link.status).toBe(200);
    await link.arrayBuffer();
  });

  test("escapes and missing files are refused with a status", async () => {
    expect((await http("..%2F..%2Fetc%2Fpasswd")).status).toBe(403);
    expect((await http("%2Fetc%2Fpasswd")).status).toBe(403);
    expect((await http("out-dir/secret.txt")).status).toBe(403);
    expect((await http("out-file")).status).toBe(403);
    expect((await http("out-dir/planted", { method: "PUT", body: "x" })).status).toBe(403);
    expect((await http("nothing-here")).status).toBe(404);
    expect((await http("%E0%A4%A")).status).toBe(400);
    expect(readdirSync(outside)).toEqual(["secret.txt"]);
    // a PUT token is never taken from the query string
    expect((await fetch(`${r.url}/v1/files/q.txt?token=${r.token({ scopes: ["files"] })}`, { method: "PUT", body: "x" })).status).toBe(401);
  });
});
