import type { Operation } from "./cloudflare-openapi/validate.ts";
import type { FakeWorker, Ingress } from "./fake-cloudflare.ts";

/**
 * Checks of the fake Cloudflare API (fake-cloudflare.ts) that go beyond the OpenAPI description:
 * what cloudflared and the API accept in a tunnel's ingress, and the Workers multipart upload.
 */
const SERVICE = /^(https?|tcp|ssh|rdp|smb|unix|unix\+tls):/;

export function validateIngress(ingress: Ingress[], inAccountZone: (host: string) => boolean): string | undefined {
  if (!Array.isArray(ingress) || ingress.length === 0) return "config.ingress must have at least one rule";
  const last = ingress[ingress.length - 1]!;
  if (last.hostname || last.path) return "The last ingress rule must match all URLs (i.e. it should not have a hostname or path filter)";
  for (const [i, r] of ingress.entries()) {
    if (r.hostname) {
      const bare = r.hostname.replace(/^\*\./, "");
      if (!inAccountZone(bare)) return `ingress[${i}].hostname ${r.hostname} is not in a zone of this account`;
    }
    if (r.path !== undefined) {
      try {
        new RegExp(r.path);
      } catch {
        return `ingress[${i}].path ${r.path} is not a valid regular expression`;
      }
    }
    const s = r.service;
    if (/^http_status:/.test(s)) {
      const code = Number(s.slice(12));
      if (!/^\d{3}$/.test(s.slice(12)) || code < 100 || code > 599) return `ingress[${i}].service ${s}: not a valid HTTP status`;
      continue;
    }
    if (s === "hello_world" || s === "bastion") continue;
    if (!SERVICE.test(s)) return `ingress[${i}].service ${s}: the protocol must be one of http, https, tcp, ssh, rdp, smb, unix, unix+tls`;
    if (/^unix/.test(s)) continue;
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      return `ingress[${i}].service ${s} is not a valid URL`;
    }
    if (!u.hostname) return `ingress[${i}].service ${s} has no host`;
    if (u.pathname !== "/" && u.pathname !== "") return `ingress[${i}].service ${s}: ingress rules don't support proxying to a different path on the origin service`;
  }
  return undefined;
}

/** PUT/DELETE of a Worker script: the multipart upload as the Workers API takes it. */
export async function workerScript(req: Request, name: string, ctx: { allowed: (write: boolean) => boolean; workers: Map<string, FakeWorker>; envelope: (r: unknown) => Response; fail: (status: number, code: number, message: string) => Response }): Promise<Response> {
  const { workers, envelope, fail } = ctx;
  const m = req.method;
  if (!ctx.allowed(m !== "GET")) return fail(403, 10000, "Authentication error");
  if (m === "PUT") {
    if (!(req.headers.get("content-type") ?? "").startsWith("multipart/form-data")) return fail(400, 10021, "Uploaded scripts must be multipart/form-data with a metadata part");
    // the part's own Content-Type header, as sent (the parsed form guesses it from the file name)
    const raw = await req.clone().text();
    const form = await req.formData();
    const metaPart = form.get("metadata");
    if (!metaPart || typeof metaPart === "string") return fail(400, 10021, "metadata part missing");
    let meta: { main_module?: string; bindings?: FakeWorker["bindings"]; compatibility_date?: string };
    try {
      meta = JSON.parse(await (metaPart as Blob).text());
    } catch {
      return fail(400, 10021, "metadata is not JSON");
    }
    const mod = meta.main_module ? form.get(meta.main_module) : null;
    if (!mod || typeof mod === "string") return fail(400, 10021, "No such module: main_module must name an uploaded part");
    if (!Array.isArray(meta.bindings ?? []) || (meta.bindings ?? []).some((b) => !b.type || !b.name)) return fail(400, 10021, "bindings must be a list of {type, name}");
    const partType = new RegExp(`Content-Disposition: form-data; name="${meta.main_module!.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}"[^\r\n]*\r\nContent-Type: ([^\r\n]+)`).exec(raw)?.[1] ?? "";
    if (partType !== "application/javascript+module") return fail(400, 10021, `main_module must be sent as application/javascript+module, got "${partType}"`);
    workers.set(name, { name, mainModule: meta.main_module!, module: await (mod as Blob).text(), moduleType: partType, bindings: meta.bindings ?? [] });
    return envelope({ id: name, etag: crypto.randomUUID().replace(/-/g, ""), created_on: new Date().toISOString(), modified_on: new Date().toISOString() });
  }
  if (m === "DELETE") {
    if (!workers.delete(name)) return fail(404, 10007, "This Worker does not exist on your account.");
    return envelope(null);
  }
  return fail(405, 10405, "Method not allowed");
}

/** The described ingress schema requires a hostname on every rule; the live API requires a last rule without one. */
export function catchAllAllowed(body: Operation["body"]) {
  const copy = structuredClone(body)!;
  const items = copy.properties?.config?.properties?.ingress?.items;
  if (items?.required) items.required = items.required.filter((k) => k !== "hostname");
  return copy;
}
