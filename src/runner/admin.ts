import * as v from "valibot";
import { bearer, jsonError, refusal } from "./auth.ts";
import type { Session } from "./session.ts";

/**
 * The control plane's calls into the runner (`/v1/admin/...`, a token with the `admin` scope in
 * `Authorization: Bearer`): the session's status (activity, clients, terminals, commands), preview
 * visibility per port, token revocation, and a clean stop.
 */
const previewBody = v.strictObject({ public: v.boolean() });
const revokeBody = v.strictObject({ jti: v.pipe(v.array(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{8,64}$/))), v.minLength(1), v.maxLength(1000)) });
const stopBody = v.optional(v.strictObject({}));

export async function admin(s: Session, req: Request, rest: string): Promise<Response> {
  const auth = s.verify(bearer(req), ["admin"]);
  if (!auth.ok) return refusal(auth.reason);
  const port = /^\/previews\/(\d{1,5})$/.exec(rest);
  if (rest === "/status" && req.method === "GET") return Response.json(s.status());
  if (port && req.method === "PUT") {
    const n = Number(port[1]);
    if (n < 1 || n > 65535) return jsonError(400, "bad-request", "ports are 1–65535");
    const body = await jsonBody(req, previewBody);
    if (body instanceof Response) return body;
    if (body.public) s.publicPorts.add(n);
    else s.publicPorts.delete(n);
    s.log(`preview port ${n} is ${body.public ? "public" : "private"}`);
    return Response.json({ port: n, public: body.public });
  }
  if (rest === "/revoke" && req.method === "POST") {
    const body = await jsonBody(req, revokeBody);
    if (body instanceof Response) return body;
    return Response.json({ revoked: body.jti.length, closed: s.revoke(body.jti) });
  }
  if (rest === "/stop" && req.method === "POST") {
    const body = await jsonBody(req, stopBody);
    if (body instanceof Response) return body;
    void s.stop("stopped");
    return Response.json({ stopping: true }, { status: 202 });
  }
  return jsonError(404, "not-found", `no admin call ${req.method} ${rest}`);
}

async function jsonBody<T extends v.GenericSchema>(req: Request, schema: T): Promise<v.InferOutput<T> | Response> {
  const text = await req.text();
  if (text.length > 64 * 1024) return jsonError(413, "too-large", "request body too large");
  let raw: unknown = undefined;
  if (text.trim() !== "") {
    try {
      raw = JSON.parse(text);
    } catch {
      return jsonError(400, "bad-request", "the body is not JSON");
    }
  }
  const r = v.safeParse(schema, raw);
  return r.success ? r.output : jsonError(400, "bad-request", r.issues[0].message);
}
