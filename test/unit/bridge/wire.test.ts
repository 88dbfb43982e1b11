import { describe, expect, test } from "bun:test";
import { KIND, decodeHeader, encodeHeader, parsePortList } from "../../../src/core/bridge/wire.ts";
import { selectorPatch } from "../../../src/core/bridge/selector.ts";

describe("stream header framing", () => {
  test("round-trips kind, port and name", () => {
    const h = { kind: KIND.conn, port: 8443, name: "https-admin" } as const;
    const enc = encodeHeader(h);
    expect(decodeHeader(enc)).toEqual({ header: h, used: enc.length });
  });

  test("a header split across reads is incomplete until its last byte, and payload after it is not consumed", () => {
    const enc = encodeHeader({ kind: KIND.mirror, port: 80, name: "http" });
    for (let i = 0; i < enc.length; i++) expect(decodeHeader(enc.subarray(0, i))).toBeUndefined();
    const withPayload = new Uint8Array([...enc, 71, 69, 84]);
    expect(decodeHeader(withPayload)?.used).toBe(enc.length);
  });

  test("garbage is refused, not misread", () => {
    expect(() => decodeHeader(new TextEncoder().encode("GET / HTTP/1.1"))).toThrow(/magic/);
    expect(() => decodeHeader(new Uint8Array([0xd7, 9, 0, 80, 0]))).toThrow(/kind/);
  });

  test("--ports name:port lists", () => {
    expect(parsePortList("http:8080,grpc:9090,5432:5432")).toEqual([
      { name: "http", port: 8080 },
      { name: "grpc", port: 9090 },
      { name: "5432", port: 5432 },
    ]);
    expect(() => parsePortList("http:0")).toThrow(/bad port/);
  });
});

describe("selector merge patches", () => {
  test("keys of the old selector that the new one lacks are nulled (merge patch would union them)", () => {
    expect(selectorPatch({ app: "web", tier: "fe" }, { "devx.kind": "agent", "devx.session": "ab12" })).toEqual({ "devx.kind": "agent", "devx.session": "ab12", app: null, tier: null });
    expect(selectorPatch({ "devx.kind": "agent", app: "web" }, { app: "web" })).toEqual({ app: "web", "devx.kind": null });
  });
});
