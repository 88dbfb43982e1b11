import { Duplex, PassThrough, Writable } from "node:stream";
import { PortForward } from "@kubernetes/client-node";
import { NetworkError } from "../../src/errors.ts";
import type { KubeClient } from "./client.ts";

/**
 * One TCP connection to a pod port through client-node's WebSocket port-forward, as a Duplex.
 * Bytes written go to the pod; bytes from the pod are readable. The stream ends when the WebSocket
 * closes and errors when the API server reports an error on the error channel (e.g. nothing listens).
 */
export async function openPortForward(client: KubeClient, namespace: string, pod: string, port: number): Promise<Duplex> {
  const input = new PassThrough();
  let ws: { close(): void; addEventListener?: (t: string, f: () => void) => void; on?: (t: string, f: () => void) => void } | undefined;
  let errText = "";
  const duplex = new Duplex({
    read() {},
    write(chunk, _enc, cb) {
      input.write(chunk);
      cb();
    },
    final(cb) {
      input.end();
      cb();
    },
    destroy(err, cb) {
      try {
        ws?.close();
      } catch {
        /* already closed */
      }
      cb(err);
    },
  });
  const output = new Writable({
    write(chunk, _enc, cb) {
      duplex.push(chunk);
      cb();
    },
  });
  const errors = new Writable({
    write(chunk, _enc, cb) {
      errText += chunk.toString();
      cb();
    },
  });
  const pf = new PortForward(client.kc, false);
  try {
    ws = (await pf.portForward(namespace, pod, [port], output, errors, input)) as unknown as typeof ws;
  } catch (e) {
    throw new NetworkError(`port-forward to pod ${namespace}/${pod}:${port} failed: ${(e as Error).message ?? e}`, "check the pod is running and you may create pods/portforward");
  }
  const onClose = () => {
    if (errText) duplex.destroy(new NetworkError(`port-forward to ${pod}:${port}: ${errText.trim()}`, "check the pod listens on that port"));
    else duplex.push(null);
  };
  if (ws?.addEventListener) ws.addEventListener("close", onClose);
  else ws?.on?.("close", onClose);
  return duplex;
}
