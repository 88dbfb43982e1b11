import net from "node:net";
import type { ServerWebSocket } from "bun";

/**
 * The kubelet's WebSocket port-forward (`v4.channel.k8s.io`, binary channels): for the i-th port,
 * channel 2i carries data and 2i+1 errors; the server's first frame on each channel is the port as
 * 2 bytes little-endian; every later frame is [channel byte][payload]. Client frames are
 * [channel][payload] with no port prefix. One WebSocket = one TCP connection per port, and either
 * side closing ends both.
 */

export const PORTFORWARD_PROTOCOLS = ["v4.channel.k8s.io", "channel.k8s.io"];

export interface PortForwardData {
  kind: "portforward";
  podName: string;
  podUid: string;
  podIp: string;
  ports: number[];
  conns?: net.Socket[];
  closed?: boolean;
}

function frame(channel: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 1);
  out[0] = channel;
  out.set(payload, 1);
  return out;
}

export function portForwardOpen(ws: ServerWebSocket<PortForwardData>): void {
  const d = ws.data;
  d.conns = d.ports.map((port, i) => {
    const portBytes = new Uint8Array([port & 0xff, port >> 8]);
    ws.sendBinary(frame(2 * i, portBytes));
    ws.sendBinary(frame(2 * i + 1, portBytes));
    const sock = net.connect({ host: d.podIp, port, noDelay: true });
    sock.on("data", (chunk: Buffer) => {
      if (d.closed) return;
      // -1: queued beyond the backpressure mark; pause the pod side until drain.
      if (ws.sendBinary(frame(2 * i, chunk)) === -1) sock.pause();
    });
    sock.on("error", (e: NodeJS.ErrnoException) => {
      if (d.closed) return;
      const msg = `error forwarding port ${port} to pod ${d.podName}, uid ${d.podUid}: failed to connect to ${d.podIp}:${port}: ${e.code ?? e.message}`;
      ws.sendBinary(frame(2 * i + 1, new TextEncoder().encode(msg)));
      d.closed = true;
      ws.close(1000);
    });
    sock.on("end", () => {
      if (d.closed) return;
      d.closed = true;
      ws.close(1000);
    });
    return sock;
  });
}

export function portForwardMessage(ws: ServerWebSocket<PortForwardData>, msg: string | Buffer): void {
  const buf = typeof msg === "string" ? Buffer.from(msg, "utf8") : msg;
  if (buf.length < 1) return;
  const channel = buf[0]!;
  // Only data channels carry input; error channels are server-to-client.
  if (channel % 2 !== 0 || channel === 255) return;
  ws.data.conns?.[channel / 2]?.write(Buffer.from(buf.subarray(1)));
}

export function portForwardDrain(ws: ServerWebSocket<PortForwardData>): void {
  for (const s of ws.data.conns ?? []) s.resume();
}

export function portForwardClose(ws: ServerWebSocket<PortForwardData>): void {
  ws.data.closed = true;
  for (const s of ws.data.conns ?? []) s.end();
}
