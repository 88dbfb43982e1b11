import { connect } from "node:net";
import type { Duplex } from "node:stream";
import type { Emit } from "../../events/types.ts";
import { KIND, controlChannel, encodeHeader, readHeader, tunnelProof } from "../../protocol/bridge/wire.ts";
import { pipeStream, yamuxOver, type YamuxSession } from "../../protocol/bridge/yamux.ts";

/**
 * The host side of an intercept tunnel: one yamux session over a port-forward to the agent's
 * control port. The agent challenges every connection first; the CLI proves it holds the tunnel
 * secret (see wire.ts) before the agent sends it anything. Streams opened by the agent carry inbound connections (each headed by its Service
 * port) and are joined to that port's host port on 127.0.0.1. Heartbeats go both ways every second;
 * a silent or dropped tunnel is re-dialled with backoff until stopped, so a short network loss or a
 * laptop sleep shorter than the agent's grace period resumes the same intercept.
 */
export interface TunnelStats {
  up: boolean;
  connections: number;
  active: number;
  bytesIn: number;
  bytesOut: number;
  reconnects: number;
  mirrored: number;
}

export interface TunnelOptions {
  session: string;
  /** the secret the agent's Secret holds: the CLI's answer to the agent's challenge is keyed with it */
  secret: string;
  version: string;
  /** a fresh byte stream to the agent's control port (a port-forward) */
  dial(): Promise<Duplex>;
  /** Service port name → host port */
  hostPorts: Record<string, number>;
  emit: Emit;
  /** stop re-dialling: the agent is gone for good (pod deleted or finished) */
  agentGone?(): Promise<boolean>;
  heartbeatMs?: number;
  /** the tunnel counts as dead after this long without an agent heartbeat */
  deadAfterMs?: number;
}

export interface Tunnel {
  /** resolves when the first session is up and the agent acknowledged it */
  ready: Promise<void>;
  stats: TunnelStats;
  /** resolves when the tunnel gives up for good (agent gone) */
  ended: Promise<string>;
  /** why the last attempt failed (for a caller that gives up waiting) */
  lastError(): string | undefined;
  stop(): Promise<void>;
  /** drop the current transport (tests: a network loss) */
  drop(): void;
}

export function startTunnel(o: TunnelOptions): Tunnel {
  const stats: TunnelStats = { up: false, connections: 0, active: 0, bytesIn: 0, bytesOut: 0, reconnects: 0, mirrored: 0 };
  const hb = o.heartbeatMs ?? 1000;
  const deadAfter = o.deadAfterMs ?? 3 * hb + 500;
  let stopped = false;
  let current: { session: YamuxSession; socket: Duplex } | undefined;
  let readyResolve!: () => void;
  let readyReject!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => ((readyResolve = res), (readyReject = rej)));
  ready.catch(() => {});
  const warned = new Set<string>();
  let lastWhy: string | undefined;

  const serveStream = async (stream: Awaited<ReturnType<YamuxSession["createStream"]>>) => {
    const h = await readHeader(stream);
    const hostPort = o.hostPorts[h.name];
    if (hostPort === undefined) {
      stream.abort(new Error(`no host port for ${h.name}`));
      return;
    }
    const socket = connect({ port: hostPort, host: "127.0.0.1", allowHalfOpen: true });
    socket.setNoDelay(true);
    const ok = await new Promise<boolean>((resolve) => {
      socket.once("connect", () => resolve(true));
      socket.once("error", () => resolve(false));
    });
    if (!ok) {
      if (!warned.has(h.name)) {
        warned.add(h.name);
        o.emit({ type: "warning", message: `a connection for port ${h.name} arrived but nothing listens on 127.0.0.1:${hostPort}`, hint: `start your app on port ${hostPort}, or pass --port ${h.name}:<host port>` });
      }
      stream.abort(new Error("host port refused"));
      return;
    }
    warned.delete(h.name);
    if (h.kind === KIND.mirror) {
      // a copy of someone else's request: the host app's reply is read and dropped
      stats.mirrored++;
      socket.on("data", () => {});
    }
    stats.connections++;
    stats.active++;
    await pipeStream(stream, socket, (dir, n) => (dir === "down" ? (stats.bytesIn += n) : h.kind === KIND.conn ? (stats.bytesOut += n) : 0));
    stats.active--;
  };

  const once = async (): Promise<string | undefined> => {
    const socket = await o.dial();
    const session = yamuxOver(socket, "client");
    current = { session, socket };
    session.addEventListener("stream", (evt) => void serveStream(evt.detail).catch(() => evt.detail.abort(new Error("bad stream"))));
    const control = await session.createStream();
    control.send(encodeHeader({ kind: KIND.control, port: 0, name: "control" }));
    let lastHeard = Date.now();
    let acknowledged = false;
    let hello = false;
    const send = controlChannel(control, (m) => {
      lastHeard = Date.now();
      if (m.t === "challenge") {
        if (!hello && typeof m.nonce === "string") send({ t: "hello", session: o.session, version: o.version, proof: tunnelProof(o.secret, o.session, m.nonce) });
        hello = true;
        return;
      }
      if (!hello) return;
      if (!acknowledged) {
        acknowledged = true;
        stats.up = true;
        if (stats.reconnects > 0) o.emit({ type: "info", message: "intercept tunnel reconnected" });
        readyResolve();
      }
    });
    return new Promise<string | undefined>((resolve) => {
      const timer = setInterval(() => {
        if (hello) send({ t: "hb" });
        if (Date.now() - lastHeard > deadAfter) finish(`no heartbeat from the agent for ${Date.now() - lastHeard} ms`);
      }, hb);
      const finish = (why?: string) => {
        clearInterval(timer);
        stats.up = false;
        socket.destroy();
        resolve(why);
      };
      socket.on("close", () => finish("the port-forward closed"));
      socket.on("error", (e) => finish(`the port-forward failed: ${e.message}`));
    });
  };

  const ended = (async () => {
    let backoff = 100;
    while (!stopped) {
      let why: string | undefined;
      const t0 = Date.now();
      try {
        why = await once();
      } catch (e) {
        why = (e as Error).message;
      }
      if (stopped) break;
      lastWhy = why;
      if (o.agentGone && (await o.agentGone().catch(() => false))) {
        readyReject(new Error(`the agent is gone (${why})`));
        return `the agent is gone (${why})`;
      }
      if (Date.now() - t0 > 5000) backoff = 100;
      stats.reconnects++;
      o.emit({ type: "warning", message: `intercept tunnel down: ${why}; reconnecting in ${backoff} ms`, hint: "traffic waits at the agent until the tunnel is back (within the grace period)" });
      await Bun.sleep(backoff);
      backoff = Math.min(backoff * 2, 2000);
    }
    return "stopped";
  })();

  return {
    ready,
    stats,
    ended,
    lastError: () => lastWhy,
    drop: () => current?.socket.destroy(),
    async stop() {
      stopped = true;
      readyReject(new Error("stopped"));
      await current?.session.close().catch(() => {});
      current?.socket.destroy();
      await ended;
    },
  };
}
