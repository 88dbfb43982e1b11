import type { Duplex } from "node:stream";
import { yamux } from "@libp2p/yamux";
import { StreamState, YamuxStream as LibStream } from "@libp2p/yamux/stream";
import { AbstractMessageStream, type SendResult } from "@libp2p/utils";
import type { Uint8ArrayList } from "uint8arraylist";
import type { Logger } from "@libp2p/interface";

/**
 * @libp2p/yamux speaks to a libp2p MessageStream, not a byte stream. This adapter turns any Node
 * Duplex (a TCP socket on the agent, a WebSocket port-forward on the CLI) into one, keeping
 * backpressure: a full socket pauses every yamux stream until it drains.
 */
const noop = () => {};
/**
 * The receive window each stream grants. Yamux starts every stream at 256 KiB and @libp2p/yamux
 * grows it only from keep-alive RTT samples (off here), so a stream could never have more than
 * 256 KiB in flight: over the agent → API server → CLI path that capped a transfer at window/RTT.
 * The extra credit is granted with the stream's first window update, as the protocol allows, so a
 * peer of another version still works (it just receives a larger credit).
 */
export const STREAM_WINDOW = 4 * 1024 * 1024;

// @libp2p/yamux also credits the window back after every data frame, so each frame costs a second,
// 12-byte frame the other way, which over a port-forward is one more WebSocket message through
// every hop. Credit it once half the window is used instead (as hashicorp/yamux does); frames that
// carry SYN/ACK flags, and pause/resume, keep the library's own behaviour.
type WindowFields = { state: StreamState; recvWindow: number; recvWindowCapacity: number };
const creditEveryFrame = LibStream.prototype.sendWindowUpdate;
LibStream.prototype.sendWindowUpdate = function (this: LibStream) {
  const w = this as unknown as WindowFields;
  if (w.recvWindow < STREAM_WINDOW) w.recvWindow = STREAM_WINDOW;
  if (w.state === StreamState.Established && w.recvWindowCapacity > w.recvWindow / 2) return;
  creditEveryFrame.call(this);
};

/** Bytes a stream may queue beyond its send window before its socket is paused. */
const SEND_BUFFER = 1024 * 1024;
function quietLogger(): Logger {
  const log = Object.assign((..._a: unknown[]) => {}, {
    enabled: false,
    error: noop,
    trace: Object.assign(noop, { enabled: false }),
    newScope: () => log,
  });
  return log as unknown as Logger;
}

class DuplexMessageStream extends AbstractMessageStream {
  constructor(private readonly socket: Duplex, direction: "inbound" | "outbound") {
    super({ log: quietLogger(), direction, inactivityTimeout: 0 });
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("drain", () => this.safeDispatchEvent("drain"));
    const closed = () => {
      if (this.status === "open") this.onTransportClosed();
    };
    socket.on("end", closed);
    socket.on("close", closed);
    socket.on("error", closed);
  }

  sendData(data: Uint8ArrayList): SendResult {
    // Headers and payloads go out as they are (no concatenating copy of every byte); corked, so a
    // batch of frames still leaves as one write.
    let ok = true;
    this.socket.cork();
    for (const buf of data) ok = this.socket.write(buf);
    this.socket.uncork();
    return { sentBytes: data.byteLength, canSendMore: ok };
  }
  sendReset(): void {
    this.socket.destroy();
  }
  sendPause(): void {
    this.socket.pause();
  }
  sendResume(): void {
    this.socket.resume();
  }
  async close(): Promise<void> {
    if (this.socket.destroyed) return;
    await new Promise<void>((resolve) => {
      this.socket.once("close", () => resolve());
      this.socket.end();
      // a peer that never closes its side must not hold us
      setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, 1000).unref();
    });
  }
}

export type YamuxSession = ReturnType<ReturnType<ReturnType<typeof yamux>>["createStreamMuxer"]>;
export type YamuxStream = Awaited<ReturnType<YamuxSession["createStream"]>>;

/** A yamux session over a byte stream. The CLI is the client ("outbound"), the agent the server. */
export function yamuxOver(socket: Duplex, role: "client" | "server"): YamuxSession {
  const conn = new DuplexMessageStream(socket, role === "client" ? "outbound" : "inbound");
  // Keep-alive pings are ours (heartbeats on the control stream), so liveness has one definition.
  // Stream windows: see STREAM_WINDOW (a 2× read buffer: a paused stream may hold a full window).
  return yamux({ enableKeepAlive: false, maxMessageSize: 256 * 1024, streamOptions: { maxStreamWindowSize: STREAM_WINDOW, maxReadBufferLength: 2 * STREAM_WINDOW } })().createStreamMuxer(conn);
}

/**
 * Join a yamux stream and a socket both ways with backpressure and half-close; resolves when both
 * directions are done. `onBytes` counts traffic (up = socket → stream).
 */
export function pipeStream(stream: YamuxStream, socket: Duplex, onBytes?: (dir: "up" | "down", n: number) => void): Promise<void> {
  return new Promise((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve();
    };
    let awaitingDrain = false;
    stream.addEventListener("message", (evt) => {
      const data = evt.data;
      let ok = true;
      for (const buf of "subarray" in data && !("bufs" in data) ? [data as Uint8Array] : (data as Uint8ArrayList)) {
        onBytes?.("down", buf.byteLength);
        ok = socket.write(buf);
      }
      if (!ok && !awaitingDrain) {
        awaitingDrain = true;
        // Paused after this dispatch, not inside it: when the dispatch runs from resume(), the
        // library marks the stream established again right after it, which would reopen the
        // window while we are paused (and the stream resets past its 4 MiB read buffer).
        queueMicrotask(() => {
          if (awaitingDrain && stream.readStatus === "readable") stream.pause();
        });
        socket.once("drain", () => {
          awaitingDrain = false;
          if (stream.readStatus === "paused") stream.resume();
        });
      }
    });
    // The socket ends once the stream's bytes are all written to it ('end': remote closed and the
    // read buffer empty), not on the remote's FIN or the stream's close: those arrive while a paused
    // stream may still hold up to a window of data, which would be cut off.
    const endSocket = () => {
      if (!socket.writableEnded) socket.end();
      finish();
    };
    stream.addEventListener("end", endSocket);
    stream.addEventListener("close", (evt) => {
      if ((evt as { error?: Error }).error) {
        socket.destroy();
        finish();
      } else if (stream.readBufferLength === 0) endSocket();
    });
    socket.on("data", (chunk: Buffer) => {
      onBytes?.("up", chunk.byteLength);
      if (stream.writeStatus !== "writable") return;
      stream.send(chunk);
      // Backpressure on the stream's own buffer, not on send()'s result: that is false whenever the
      // session's socket holds more than its 16 KiB mark (nearly always during a transfer), and
      // stream.onDrain() keeps its first promise resolved forever (@libp2p/utils), so waiting on it
      // let a fast sender queue a whole upload in memory. Bytes leave the buffer only on a window
      // update or a transport drain ('drain') or when it empties ('idle'); the library flushes in a
      // microtask queued before ours, so the check sees what is left after the flush.
      if (stream.writeBufferLength >= SEND_BUFFER && !socket.isPaused()) {
        socket.pause();
        const check = () =>
          queueMicrotask(() => {
            if (stream.writeBufferLength >= SEND_BUFFER && stream.writeStatus === "writable") return;
            stream.removeEventListener("drain", check);
            stream.removeEventListener("idle", check);
            socket.resume();
          });
        stream.addEventListener("drain", check);
        stream.addEventListener("idle", check);
      }
    });
    socket.on("end", () => {
      stream.close().catch(() => stream.abort(new Error("close failed")));
    });
    socket.on("error", () => stream.abort(new Error("socket error")));
    socket.on("close", () => {
      if (stream.status === "open" && stream.writeStatus === "writable") stream.close().catch(noop);
      if (stream.status !== "open") finish();
    });
  });
}
