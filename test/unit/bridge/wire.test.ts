import { describe, expect, test } from "bun:test";
import { KIND, MAX_CONTROL_LINE, controlChannel, decodeHeader, encodeHeader, newChallenge, newTunnelSecret, parsePortList, proofValid, tunnelProof, type ControlMessage } from "../../../src/protocol/bridge/wire.ts";
import { selectorPatch } from "../../../providers/kube/intercept-selector.ts";

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

describe("tunnel authentication", () => {
  const secret = newTunnelSecret();
  const nonce = newChallenge();

  test("a proof is bound to the secret, the session and this connection's challenge", () => {
    const proof = tunnelProof(secret, "ab12cd34", nonce);
    expect(proofValid(secret, "ab12cd34", nonce, proof)).toBe(true);
    expect(proofValid(secret, "ab12cd35", nonce, proof)).toBe(false);
    expect(proofValid(secret, "ab12cd34", newChallenge(), proof)).toBe(false);
    expect(proofValid(newTunnelSecret(), "ab12cd34", nonce, proof)).toBe(false);
  });

  test("garbage proofs are refused without throwing: wrong length, not hex, not a string, no secret", () => {
    const proof = tunnelProof(secret, "s", nonce);
    for (const bad of [proof.slice(2), `${proof}00`, "zz".repeat(32), 42, undefined, null, { proof }, ""]) expect(proofValid(secret, "s", nonce, bad)).toBe(false);
    expect(proofValid("", "s", nonce, tunnelProof("", "s", nonce))).toBe(false);
  });

  test("secrets and challenges are 32 random bytes, never repeated", () => {
    expect(Buffer.from(secret, "base64url")).toHaveLength(32);
    expect(nonce).toMatch(/^[0-9a-f]{64}$/);
    expect(new Set(Array.from({ length: 100 }, newChallenge)).size).toBe(100);
  });
});

describe("control channel", () => {
  /** Just enough of a yamux stream for controlChannel. */
  function stream() {
    const target = new EventTarget();
    const sent: string[] = [];
    let aborted: Error | undefined;
    return {
      s: Object.assign(target, {
        writeStatus: "writable",
        send: (b: Uint8Array) => void sent.push(new TextDecoder().decode(b)),
        abort: (e: Error) => void (aborted = e),
      }),
      push: (text: string) => target.dispatchEvent(Object.assign(new Event("message"), { data: new TextEncoder().encode(text) })),
      sent,
      aborted: () => aborted,
    };
  }

  test("messages split across reads arrive whole; malformed and typeless lines are dropped", () => {
    const st = stream();
    const got: ControlMessage[] = [];
    controlChannel(st.s as never, (m) => got.push(m));
    st.push('{"t":"hb","co');
    st.push('nns":1}\nnot json\n{"no":"type"}\n[1,2]\n{"t":"bye"}\n');
    expect(got).toEqual([{ t: "hb", conns: 1 }, { t: "bye" }]);
    expect(st.aborted()).toBeUndefined();
  });

  test("a line longer than the cap aborts the stream instead of growing without bound", () => {
    const st = stream();
    const got: ControlMessage[] = [];
    controlChannel(st.s as never, (m) => got.push(m));
    for (let i = 0; i < 4 && !st.aborted(); i++) st.push("x".repeat(MAX_CONTROL_LINE / 2));
    expect(st.aborted()?.message).toBe("control line too long");
    expect(got).toEqual([]);
  });
});
