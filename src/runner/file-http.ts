import { closeSync } from "node:fs";
import type { ErrorCode } from "../session/protocol/index.ts";
import { bearer, jsonError, refusal } from "./auth.ts";
import { readChunk } from "./files.ts";
import type { Session } from "./session.ts";
import { WorkspaceError } from "./workspace.ts";

/**
 * Upload and download over plain HTTP (`/v1/files/<path>`), for browsers' download links and for
 * `curl`: GET streams a file out (a directory answers with its listing as JSON), PUT streams the
 * request body into a temporary file renamed over the target when the body is complete (so an
 * interrupted upload leaves the old file whole). Both read and write in bounded chunks: a 10 GB
 * file costs 64 KiB of memory.
 */
const CHUNK = 256 * 1024;
const SMALL = 1024 * 1024;

const STATUS: Partial<Record<ErrorCode, number>> = {
  "not-found": 404,
  exists: 409,
  "is-a-directory": 409,
  "not-a-directory": 409,
  "not-empty": 409,
  escape: 403,
  forbidden: 403,
  "bad-request": 400,
  "too-large": 413,
};

export async function fileHttp(s: Session, req: Request, url: URL, rest: string): Promise<Response> {
  const token = bearer(req) ?? (req.method === "GET" || req.method === "HEAD" ? url.searchParams.get("token") : null);
  const auth = s.verify(token, ["files"]);
  if (!auth.ok) return refusal(auth.reason);
  let path: string;
  try {
    path = decodeURIComponent(rest);
  } catch {
    return jsonError(400, "bad-request", "the path is not valid percent-encoding");
  }
  try {
    if (req.method === "GET" || req.method === "HEAD") return download(s, path, req.method === "HEAD");
    if (req.method === "PUT") return await upload(s, req, url, path);
    return new Response(null, { status: 405, headers: { allow: "GET, HEAD, PUT" } });
  } catch (e) {
    if (e instanceof WorkspaceError) return jsonError(STATUS[e.code] ?? 500, e.code, e.message);
    s.log(`file API ${req.method} ${path}: ${(e as Error).stack ?? e}`);
    return jsonError(500, "internal", "internal error");
  }
}

function download(s: Session, path: string, head: boolean): Response | Promise<Response> {
  const st = s.files.stat(path, true);
  if (st.type === "dir") return Response.json(s.files.list(path));
  const { fd, size } = s.files.openRead(path);
  const name = path.split("/").pop() || "download";
  const headers = {
    "content-type": "application/octet-stream",
    "content-length": String(size),
    "x-devx-size": String(size),
    "content-disposition": `attachment; filename*=UTF-8''${encodeURIComponent(name)}`,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  };
  if (head) {
    closeSync(fd);
    return new Response(null, { headers });
  }
  // Bun sends a streamed body chunked, without the Content-Length: a small file goes whole (with
  // its length), a large one streams and carries its size in X-Devx-Size
  if (size <= SMALL) {
    return (async () => {
      try {
        const buf = new Uint8Array(size);
        let got = 0;
        for (let n = -1; n !== 0 && got < size; got += n) n = await readChunk(fd, buf.subarray(got), got);
        return new Response(buf.subarray(0, got), { headers: { ...headers, "content-length": String(got) } });
      } finally {
        closeSync(fd);
      }
    })();
  }
  let pos = 0;
  let closed = false;
  const close = () => {
    if (!closed) closeSync(fd);
    closed = true;
  };
  // pull-based: the next chunk is read only when the client has taken the previous one
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const buf = new Uint8Array(Math.min(CHUNK, Math.max(1, size - pos)));
        const n = pos >= size ? 0 : await readChunk(fd, buf, pos);
        if (n === 0) {
          close();
          controller.close();
          return;
        }
        pos += n;
        controller.enqueue(buf.subarray(0, n));
      } catch (e) {
        close();
        controller.error(e);
      }
    },
    cancel: close,
  });
  return new Response(body, { headers });
}

async function upload(s: Session, req: Request, url: URL, path: string): Promise<Response> {
  const modeText = url.searchParams.get("mode");
  const mode = modeText === null ? undefined : /^[0-7]{3,4}$/.test(modeText) ? parseInt(modeText, 8) : NaN;
  if (Number.isNaN(mode)) return jsonError(400, "bad-request", "mode is octal, e.g. 0644");
  const declared = req.headers.get("content-length");
  const u = s.files.beginWrite(path, { mode, parents: url.searchParams.get("parents") === "1" });
  try {
    if (req.body) {
      const reader = req.body.getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        await u.write(value);
      }
    }
    if (declared !== null && Number(declared) !== u.bytes) {
      u.abort();
      return jsonError(400, "bad-request", `received ${u.bytes} of ${declared} bytes; nothing was written`);
    }
    return Response.json(await u.commit(), { status: 201 });
  } catch (e) {
    u.abort();
    throw e;
  }
}
