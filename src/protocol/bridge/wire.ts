import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { YamuxStream } from "./yamux.ts";
import { IntegrityError, UsageError } from "../../errors.ts";

/**
 * The intercept tunnel's wire format, shared by the agent (in the cluster) and the CLI (on the host).
 * A leaf: it imports only node:crypto and the yamux glue beside it, so both ends agree on one
 * definition and neither drags the other's dependencies in.
 * Every yamux stream starts with a small header naming what it carries:
 *
 *   0xD7 | kind u8 | service port u16 BE | name length u8 | port name (UTF-8)
 *
 * kind 1 = a connection that arrived on that Service port (the host connects it to that port's host port),
 * kind 2 = the control stream (newline-delimited JSON: challenge, hello, heartbeats, counters),
 * kind 3 = a mirrored copy of a connection's request bytes (the host's reply is discarded).
 * The port name is the Service port's name, or its number when the port is unnamed.
 */
export const MAGIC = 0xd7;
export const KIND = { conn: 1, control: 2, mirror: 3 } as const;
export type StreamKind = (typeof KIND)[keyof typeof KIND];

export interface StreamHeader {
  kind: StreamKind;
  port: number;
  name: string;
}

export function encodeHeader(h: StreamHeader): Uint8Array {
  const name = new TextEncoder().encode(h.name);
  if (name.length > 255) throw new UsageError(`port name too long: ${h.name}`, "a Service port name has at most 255 bytes");
  const out = new Uint8Array(5 + name.length);
  out[0] = MAGIC;
  out[1] = h.kind;
  out[2] = (h.port >> 8) & 0xff;
  out[3] = h.port & 0xff;
  out[4] = name.length;
  out.set(name, 5);
  return out;
}

/** Decode a header from the start of buf: undefined while incomplete; throws on garbage. */
export function decodeHeader(buf: Uint8Array): { header: StreamHeader; used: number } | undefined {
  if (buf.length < 1) return undefined;
  if (buf[0] !== MAGIC) throw new IntegrityError("not a devx tunnel stream (bad magic byte)", "the peer is not a devx agent of this version; run the intercept again");
  if (buf.length < 5) return undefined;
  const kind = buf[1] as StreamKind;
  if (kind !== KIND.conn && kind !== KIND.control && kind !== KIND.mirror) throw new IntegrityError(`unknown stream kind ${kind}`, "the peer is not a devx agent of this version; run the intercept again");
  const len = buf[4]!;
  if (buf.length < 5 + len) return undefined;
  const name = new TextDecoder().decode(buf.subarray(5, 5 + len));
  return { header: { kind, port: (buf[2]! << 8) | buf[3]!, name }, used: 5 + len };
}

const concat = (a: Uint8Array, b: Uint8Array) => {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};

/**
 * Read a stream's header. Bytes after it are put back on the stream, so whoever listens next sees
 * the payload from its first byte (the stream buffers while nobody listens).
 */
export function readHeader(stream: YamuxStream, timeoutMs = 10_000): Promise<StreamHeader> {
  return new Promise((resolve, reject) => {
    let acc = new Uint8Array(0);
    const timer = setTimeout(() => fail(new Error("no stream header within timeout")), timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      stream.removeEventListener("message", onMessage);
      stream.removeEventListener("close", onClose);
    };
    const fail = (e: Error) => {
      cleanup();
      reject(e);
    };
    const onClose = () => fail(new Error("stream closed before its header"));
    const onMessage = (evt: { data: Uint8Array | { subarray(): Uint8Array } }) => {
      acc = concat(acc, evt.data.subarray());
      let got;
      try {
        got = decodeHeader(acc);
      } catch (e) {
        return fail(e as Error);
      }
      if (!got) return;
      cleanup();
      if (got.used < acc.length) stream.unshift(acc.subarray(got.used));
      resolve(got.header);
    };
    stream.addEventListener("message", onMessage as never);
    stream.addEventListener("close", onClose);
  });
}

/**
 * Control messages, one JSON object per line. The agent speaks first: a fresh random challenge per
 * connection. The CLI answers with `hello`, whose proof is an HMAC of the session id and that
 * challenge under the tunnel secret (which only the CLI and the agent's Secret hold). The agent
 * sends nothing but the challenge, and routes no traffic, to a connection before its proof checks out.
 */
export type ControlMessage =
  | { t: "challenge"; nonce: string }
  | { t: "hello"; session: string; version: string; proof: string }
  | { t: "hb"; conns?: number; bytesIn?: number; bytesOut?: number }
  | { t: "bye" };

/** A control line longer than this is hostile (real ones are a few hundred bytes). */
export const MAX_CONTROL_LINE = 16 * 1024;

/** The tunnel secret: 32 random bytes, base64url (what the agent's Secret and the CLI's record hold). */
export const newTunnelSecret = () => randomBytes(32).toString("base64url");
export const newChallenge = () => randomBytes(32).toString("hex");

const PROOF_CONTEXT = "devx-bridge-tunnel-v1";

/** The CLI's answer to a challenge: HMAC-SHA256(secret, context | session | nonce), hex. */
export function tunnelProof(secret: string, session: string, nonce: string): string {
  return createHmac("sha256", secret).update(`${PROOF_CONTEXT}\n${session}\n${nonce}`).digest("hex");
}

/** Checks a proof in constant time (no early exit on the first differing byte). */
export function proofValid(secret: string, session: string, nonce: string, proof: unknown): boolean {
  if (typeof proof !== "string" || !secret) return false;
  const want = Buffer.from(tunnelProof(secret, session, nonce), "hex");
  const got = Buffer.from(proof, "hex");
  return got.length === want.length && timingSafeEqual(got, want);
}

/**
 * Line-delimited JSON on a stream: call the returned function with each message to send. A line
 * longer than MAX_CONTROL_LINE aborts the stream (the peer is not a devx CLI or agent).
 */
export function controlChannel(stream: YamuxStream, onMessage: (m: ControlMessage) => void): (m: ControlMessage) => void {
  const dec = new TextDecoder();
  let buf = "";
  stream.addEventListener("message", (evt) => {
    buf += dec.decode(evt.data.subarray(), { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim() || line.length > MAX_CONTROL_LINE) continue;
      let m: unknown;
      try {
        m = JSON.parse(line);
      } catch {
        /* a malformed line is dropped; heartbeats will tell if the peer is really gone */
      }
      if (m && typeof m === "object" && typeof (m as { t?: unknown }).t === "string") onMessage(m as ControlMessage);
    }
    if (buf.length > MAX_CONTROL_LINE) {
      buf = "";
      stream.abort(new Error("control line too long"));
    }
  });
  const enc = new TextEncoder();
  return (m) => {
    if (stream.writeStatus === "writable") stream.send(enc.encode(JSON.stringify(m) + "\n"));
  };
}

/** `--ports name:port,name:port` (the agent's Service ports). */
export function parsePortList(s: string): Array<{ name: string; port: number }> {
  return s
    .split(",")
    .filter(Boolean)
    .map((item) => {
      const i = item.lastIndexOf(":");
      const name = i > 0 ? item.slice(0, i) : item;
      const port = Number(i > 0 ? item.slice(i + 1) : item);
      if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`bad port "${item}" (expected name:port)`, "list ports as name:port, comma-separated (e.g. http:8080,grpc:9090)");
      return { name, port };
    });
}
