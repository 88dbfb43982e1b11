import { describe, expect, test } from "bun:test";
import { OPENAPI_SOURCE, check, checkQuery, operationFor } from "../../support/cloudflare-openapi/validate.ts";
import { startFakeCloudflare, type FakeCloudflare } from "../../support/fake-cloudflare.ts";

/**
 * The fake Cloudflare API holds callers to the official contract: these are the refusals a client
 * bug would run into, each as the live API (or its published description) answers it.
 */
async function call(cf: FakeCloudflare, method: string, path: string, body?: unknown) {
  const res = await fetch(`${cf.url}${path}`, { method, headers: { Authorization: `Bearer ${cf.token}`, ...(body !== undefined ? { "Content-Type": "application/json" } : {}) }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as { success: boolean; errors: Array<{ code: number; message: string }>; result: unknown; result_info?: Record<string, number> } };
}

describe("the fake Cloudflare API keeps the published contract", () => {
  test("the operations come from the official description, at a named commit", () => {
    expect(OPENAPI_SOURCE).toMatchObject({ repository: "github.com/cloudflare/api-schemas", commit: expect.stringMatching(/^[0-9a-f]{40}$/) });
    expect(operationFor("GET", "/zones/abc/dns_records")?.op.operationId).toBe("dns-records-for-a-zone-list-dns-records");
    expect(operationFor("PUT", "/accounts/a/cfd_tunnel/t/configurations")?.op.operationId).toBe("cloudflare-tunnel-configuration-put-configuration");
  });

  test("per_page outside its documented range is refused with the failure envelope; pages hold 2 items", async () => {
    await using cf = await startFakeCloudflare({ zones: ["a.dev", "b.dev", "c.dev"] });
    for (const per of ["100", "4", "x"]) {
      const r = await call(cf, "GET", `/zones?per_page=${per}`);
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ success: false, result: null, errors: [{ code: 1001 }] });
      expect(r.body.errors[0]!.message).toContain("query per_page");
    }
    const ok = await call(cf, "GET", "/zones?per_page=50&page=2");
    expect(ok.body.result_info).toEqual({ page: 2, per_page: 2, count: 1, total_count: 3, total_pages: 2 });
    expect((await call(cf, "GET", `/accounts/${cf.accountId}/cfd_tunnel?per_page=1001`)).status).toBe(400);
    expect((await call(cf, "GET", `/zones/${cf.zone.id}/dns_records?type=WHATEVER`)).status).toBe(400);
    expect((await call(cf, "GET", `/zones/${cf.zone.id}/dns_records?namee=x`)).body.errors[0]!.message).toContain("not a documented parameter");
  });

  test("bodies: undocumented and read-only fields, wrong types, missing required fields are refused", async () => {
    await using cf = await startFakeCloudflare();
    const t = await call(cf, "POST", `/accounts/${cf.accountId}/cfd_tunnel`, { name: "x", config_src: "cloudflare", owner: "me" });
    expect([t.status, t.body.errors[0]!.message]).toEqual([400, "Invalid request: body.owner: not a documented field"]);
    expect((await call(cf, "POST", `/accounts/${cf.accountId}/cfd_tunnel`, { name: "x", config_src: "remote" })).body.errors[0]!.message).toContain("is not one of");
    const tunnel = (await call(cf, "POST", `/accounts/${cf.accountId}/cfd_tunnel`, { name: "x", config_src: "cloudflare" })).body.result as { id: string };
    const rec = { type: "CNAME", name: "a.example.dev", content: `${tunnel.id}.cfargotunnel.com`, proxied: true, ttl: 1 };
    expect((await call(cf, "POST", `/zones/${cf.zone.id}/dns_records`, { ...rec, owner: "me" })).body.errors[0]!.message).toContain("body.owner: not a documented field");
    expect((await call(cf, "POST", `/zones/${cf.zone.id}/dns_records`, { ...rec, created_on: "2024-01-01T00:00:00Z" })).body.errors[0]!.message).toContain("read-only");
    expect((await call(cf, "POST", `/zones/${cf.zone.id}/dns_records`, { ...rec, proxied: "yes" })).body.errors[0]!.message).toContain("body.proxied: expected boolean");
    expect((await call(cf, "POST", `/zones/${cf.zone.id}/dns_records`, { ...rec, ttl: 5 })).status).toBe(400);
    expect((await call(cf, "POST", `/zones/${cf.zone.id}/dns_records`, { type: "CNAME", name: "a.example.dev" })).body.errors[0]!.message).toContain("body.content: required");
    expect(cf.violations.length).toBe(7);
  });

  test("tunnel configurations: a catch-all last, services cloudflared accepts, hostnames in the account's zones", async () => {
    await using cf = await startFakeCloudflare({ zones: ["example.dev", "other.dev"] });
    const t = cf.addTunnel("devx-x");
    const put = (ingress: unknown[]) => call(cf, "PUT", `/accounts/${cf.accountId}/cfd_tunnel/${t.id}/configurations`, { config: { ingress } });
    const refused = async (ingress: unknown[], text: string) => {
      const r = await put(ingress);
      expect(r.status).toBe(400);
      expect(r.body.errors[0]!.code === 1056 || r.body.errors[0]!.code === 1001).toBe(true);
      expect(r.body.errors[0]!.message).toContain(text);
    };
    await refused([], "at least one rule");
    await refused([{ hostname: "a.example.dev", service: "http://localhost:1" }], "last ingress rule must match all URLs");
    await refused([{ path: "^/x", service: "http://localhost:1" }], "last ingress rule must match all URLs");
    await refused([{ hostname: "a.elsewhere.io", service: "http://localhost:1" }, { service: "http_status:404" }], "not in a zone of this account");
    await refused([{ hostname: "a.example.dev", service: "http://localhost:1/app" }, { service: "http_status:404" }], "different path on the origin");
    await refused([{ hostname: "a.example.dev", service: "ftp://localhost:21" }, { service: "http_status:404" }], "the protocol must be one of");
    await refused([{ hostname: "a.example.dev", service: "localhost:3000" }, { service: "http_status:404" }], "the protocol must be one of");
    await refused([{ service: "http_status:999" }], "not a valid HTTP status");
    await refused([{ hostname: "a.example.dev", service: 3000 }, { service: "http_status:404" }], "expected string");
    const ok = await put([{ hostname: "*.other.dev", service: "https://127.0.0.1:8443" }, { path: "^/healthz$", service: "http_status:204" }, { service: "http://localhost:8081" }]);
    expect(ok.status).toBe(200);
    expect(cf.configs.get(t.id)!.version).toBe(1);
  });

  test("DNS: a CNAME must name a live tunnel of the account; identical is 81057, a clash 81053; comments at most 100", async () => {
    await using cf = await startFakeCloudflare();
    const t = cf.addTunnel("devx-x");
    const post = (body: Record<string, unknown>) => call(cf, "POST", `/zones/${cf.zone.id}/dns_records`, { type: "CNAME", proxied: true, ttl: 1, ...body });
    expect((await post({ name: "a.example.dev", content: `${crypto.randomUUID()}.cfargotunnel.com` })).body.errors[0]!.code).toBe(9007);
    expect((await post({ name: "a.example.dev", content: "not-a-uuid.cfargotunnel.com" })).body.errors[0]!.code).toBe(9007);
    expect((await post({ name: "a.example.dev", content: `${t.id}.cfargotunnel.com`, comment: "x".repeat(101) })).body.errors[0]!.code).toBe(9102);
    expect((await post({ name: "a.elsewhere.io", content: `${t.id}.cfargotunnel.com` })).body.errors[0]!.code).toBe(9005);
    expect((await post({ name: "a.example.dev", content: `${t.id}.cfargotunnel.com` })).status).toBe(200);
    expect((await post({ name: "a.example.dev", content: `${t.id}.cfargotunnel.com` })).body.errors[0]!.code).toBe(81057);
    expect((await post({ name: "a.example.dev", content: "b.example.org" })).body.errors[0]!.code).toBe(81053);
    cf.tunnels.get(t.id)!.deleted_at = new Date().toISOString();
    expect((await post({ name: "c.example.dev", content: `${t.id}.cfargotunnel.com` })).body.errors[0]!.code).toBe(9007);
  });

  test("429 with Retry-After once the budget is spent, until that time has really passed", async () => {
    await using cf = await startFakeCloudflare();
    cf.rateLimit({ budget: 1, retryAfter: 1 });
    expect((await call(cf, "GET", "/zones")).status).toBe(200);
    const limited = await call(cf, "GET", "/zones");
    expect([limited.status, limited.headers.get("retry-after"), limited.body.errors[0]!.code]).toEqual([429, "1", 971]);
    // asking again at once is still limited
    expect((await call(cf, "GET", "/zones")).status).toBe(429);
  });

  test("the validator itself: anyOf, nested arrays, query types", () => {
    const ttl = operationFor("POST", "/zones/z/dns_records")!.op.body!.properties!.ttl!;
    expect(check(ttl, 1)).toEqual([]);
    expect(check(ttl, 3600)).toEqual([]);
    expect(check(ttl, 10)).toEqual(["body: matches 0 of the 2 allowed forms"]);
    const put = operationFor("PUT", "/accounts/a/cfd_tunnel/t/configurations")!.op;
    expect(check(put.body!, { config: { ingress: [{ hostname: "a", service: "b", originRequest: { connectTimeout: "10s" } }] } })).toEqual(["body.config.ingress[0].originRequest.connectTimeout: expected integer, got string"]);
    expect(checkQuery(operationFor("GET", "/accounts/a/cfd_tunnel")!.op, new URLSearchParams("is_deleted=maybe"))).toEqual(['query is_deleted: expected boolean, got string']);
  });
});
