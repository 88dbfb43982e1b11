import net from "node:net";

/**
 * The kubelet's WebSocket port-forward (`v4.channel.k8s.io`, binary channels): for the i-th port,
 * channel 2i carries data and 2i+1 errors; the server's first frame on each channel is the port as
 * 2 bytes little-endian; every later frame is [channel byte][payload]. Client frames are
 * [channel][payload] with no port prefix. One WebSocket = one TCP connection per port, and either
 * side closing ends both. Backpressure holds both ways: a full pod socket stops reading the client,
 * a full client connection stops reading the pod. Where a port is dialled is the kubelet's business
 * (`dial`): localhost inside the pod, as containerd and CRI-O do it (see netns.ts).
 */

export const PORTFORWARD_PROTOCOLS = ["v4.channel.k8s.io", "channel.k8s.io"];

export interface PortForwardData {
  kind: "portforward";
  podName: string;
  podUid: string;
  podIp: string;
  ports: number[];
  /** where localhost:<port> of the pod is, or why nothing answers there (the runtime's error text) */
  dial(port: number): { host: string } | { error: string };
  conns?: net.Socket[];
  closed?: boolean;
}

/** The server WebSocket as port-forward uses it (see websocket.ts). */
export interface PortForwardSocket {
  data: PortForwardData;
  /** -1: over the mark, wait for drain */
  sendBinary(payload: Uint8Array, channel?: number): number;
  close(code?: number): void;
  pause(): void;
  resume(): void;
}

export function portForwardOpen(ws: PortForwardSocket): void {
  const d = ws.data;
  d.conns = d.ports.map((port, i) => {
    const portBytes = new Uint8Array([port & 0xff, port >> 8]);
    ws.sendBinary(portBytes, 2 * i);
    ws.sendBinary(portBytes, 2 * i + 1);
    const target = d.dial(port);
    if ("error" in target) {
      const sock = new net.Socket();
      queueMicrotask(() => {
        if (d.closed) return;
        ws.sendBinary(new TextEncoder().encode(`error forwarding port ${port} to pod ${d.podUid}, uid : ${target.error}`), 2 * i + 1);
        d.closed = true;
        ws.close(1000);
      });
      return sock;
    }
    const sock = net.connect({ host: target.host, port, noDelay: true });
    sock.on("data", (chunk: Buffer) => {
      if (d.closed) return;
      // -1: queued beyond the backpressure mark; pause the pod side until drain.
      if (ws.sendBinary(chunk, 2 * i) === -1) sock.pause();
    });
    // the pod cannot take more: stop reading the client until it can
    sock.on("drain", () => ws.resume());
    sock.on("error", (e: NodeJS.ErrnoException) => {
      if (d.closed) return;
      const msg = `error forwarding port ${port} to pod ${d.podName}, uid ${d.podUid}: failed to connect to ${d.podIp}:${port}: ${e.code ?? e.message}`;
      ws.sendBinary(new TextEncoder().encode(msg), 2 * i + 1);
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

export function portForwardMessage(ws: PortForwardSocket, buf: Buffer): void {
  if (buf.length < 1) return;
  const channel = buf[0]!;
  // Only data channels carry input; error channels are server-to-client.
  if (channel % 2 !== 0 || channel === 255) return;
  const sock = ws.data.conns?.[channel / 2];
  if (sock && !sock.write(buf.subarray(1))) ws.pause();
}

export function portForwardDrain(ws: PortForwardSocket): void {
  for (const s of ws.data.conns ?? []) s.resume();
}

export function portForwardClose(ws: PortForwardSocket): void {
  ws.data.closed = true;
  for (const s of ws.data.conns ?? []) s.end();
}
