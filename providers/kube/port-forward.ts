import { Duplex } from "node:stream";
// client-node's own WebSocket layer (kubeconfig TLS material, subprotocols), under its PortForward
// class: PortForward pipes through streams that ignore backpressure both ways (a 1 GB upload sat in
// the WebSocket's send buffer) and copies every chunk once more than needed.
import { WebSocketHandler } from "@kubernetes/client-node/dist/web-socket-handler.js";
import { NetworkError } from "../../src/errors.ts";
import type { KubeClient } from "./client.ts";

/** Bytes queued in the WebSocket before writers wait (several large messages in flight). */
const SEND_HIGH_WATER = 4 * 1024 * 1024;
/** Bytes the Duplex buffers for its reader before the WebSocket stops reading. */
const RECEIVE_HIGH_WATER = 1024 * 1024;

interface PortForwardSocket {
  send(data: Uint8Array): void;
  readonly bufferedAmount: number;
  readonly readyState: number;
  pause(): void;
  resume(): void;
  close(): void;
  terminate?(): void;
  addEventListener(type: "close" | "error", f: (e: { message?: string; error?: Error }) => void): void;
}

/**
 * One TCP connection to a pod port through the API server's WebSocket port-forward
 * (`v4.channel.k8s.io`: channel 0 data, channel 1 errors, each opened by the port as 2 bytes), as a
 * Duplex with backpressure both ways: writes wait while the WebSocket holds more than a few MiB, and
 * the WebSocket stops reading while the Duplex's reader is behind. The stream ends when the
 * WebSocket closes and errors when the API server reports an error on the error channel (e.g.
 * nothing listens on the port).
 */
export async function openPortForward(client: KubeClient, namespace: string, pod: string, port: number): Promise<Duplex> {
  let ws: PortForwardSocket | undefined;
  let errText = "";
  const portPrefix = [true, true];
  let paused = false;
  let waitTimer: ReturnType<typeof setTimeout> | undefined;

  // Writers continue once the WebSocket has sent most of what it holds. The client WebSocket has
  // no drain event, so the queue is polled (only while it is over the mark).
  const whenFlushed = (cb: (err?: Error | null) => void) => {
    if (!ws || ws.bufferedAmount <= SEND_HIGH_WATER) return cb();
    waitTimer = setTimeout(() => {
      waitTimer = undefined;
      if (duplex.destroyed) return cb(new NetworkError(`port-forward to ${pod}:${port} closed`, "the connection was closed while sending"));
      whenFlushed(cb);
    }, 1);
  };
  // One WebSocket message per write batch: the channel byte and every chunk in a single copy.
  const send = (chunks: Uint8Array[], cb: (err?: Error | null) => void) => {
    if (ws!.readyState !== 1) return cb(new NetworkError(`port-forward to ${pod}:${port} is closed`, "the API server or the pod ended the connection"));
    let total = 1;
    for (const c of chunks) total += c.byteLength;
    const msg = Buffer.allocUnsafe(total);
    msg[0] = 0;
    let off = 1;
    for (const c of chunks) {
      msg.set(c, off);
      off += c.byteLength;
    }
    ws!.send(msg);
    whenFlushed(cb);
  };

  const duplex = new Duplex({
    readableHighWaterMark: RECEIVE_HIGH_WATER,
    writableHighWaterMark: 1024 * 1024,
    read() {
      if (paused) {
        paused = false;
        ws?.resume();
      }
    },
    write(chunk: Buffer, _enc, cb) {
      send([chunk], cb);
    },
    writev(chunks, cb) {
      send(chunks.map((c) => c.chunk as Buffer), cb);
    },
    final(cb) {
      // v4 has no half-close: ending our side ends the connection (after what is queued)
      ws?.close();
      cb();
    },
    destroy(err, cb) {
      if (waitTimer) clearTimeout(waitTimer);
      try {
        ws?.close();
      } catch {
        /* already closed */
      }
      cb(err);
    },
  });

  const onBinary = (channel: number, buff: Buffer): boolean => {
    if (channel > 1) return true;
    // the first frame on each channel is the port number
    if (portPrefix[channel]) {
      portPrefix[channel] = false;
      buff = buff.subarray(2);
    }
    if (buff.length === 0) return true;
    if (channel === 1) errText += buff.toString();
    else if (!duplex.push(buff) && !paused) {
      paused = true;
      ws?.pause();
    }
    return true;
  };
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}/portforward?ports=${port}`;
  try {
    ws = (await new WebSocketHandler(client.kc).connect(path, null, onBinary)) as unknown as PortForwardSocket;
  } catch (e) {
    throw new NetworkError(`port-forward to pod ${namespace}/${pod}:${port} failed: ${(e as Error).message ?? e}`, "check the pod is running and you may create pods/portforward");
  }
  ws.addEventListener("close", () => {
    if (errText) duplex.destroy(new NetworkError(`port-forward to ${pod}:${port}: ${errText.trim()}`, "check the pod listens on that port"));
    else duplex.push(null);
  });
  ws.addEventListener("error", (e) => {
    if (!duplex.destroyed) duplex.destroy(new NetworkError(`port-forward to ${pod}:${port} failed: ${e.message ?? e.error?.message ?? "WebSocket error"}`, "check the connection to the API server"));
  });
  return duplex;
}
