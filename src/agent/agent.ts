import { createServer, connect, type Server, type Socket } from "node:net";
import type { KubeBridge } from "../../providers/kube/bridge.ts";
import { KIND, controlChannel, encodeHeader, newChallenge, proofValid, readHeader, type ControlMessage } from "../protocol/bridge/wire.ts";
import { pipeStream, yamuxOver, type YamuxSession } from "../protocol/bridge/yamux.ts";
import { labelSelector, readAnnotation, restoreSelector } from "../../providers/kube/intercept-selector.ts";
import { agentName } from "../protocol/bridge/names.ts";

/**
 * The in-cluster side of an intercept (`devx bridge-agent`, run as a Job). It listens on every
 * Service port on the pod IP; each inbound connection becomes a yamux stream to the CLI, headed by
 * the Service port it came in on. The control port listens on 127.0.0.1 only: the CLI reaches it
 * through a port-forward (the container runtime dials localhost in the pod's network namespace),
 * other pods cannot reach it at all. A connection there is challenged and becomes the CLI's session
 * only once it proves it holds the tunnel secret (wire.ts); before that it gets no traffic and its
 * heartbeats count for nothing. When the CLI's heartbeats stop for longer than the grace period (CLI
 * killed, laptop asleep, network gone), the agent restores the Service's original selector with its
 * own ServiceAccount and exits 0.
 */
export interface AgentOptions {
  namespace: string;
  service: string;
  session: string;
  controlPort: number;
  /** readiness only: accepts and closes, on `host` where the kubelet probes (absent for old Job specs) */
  healthPort?: number;
  graceMs: number;
  mirror: boolean;
  ports: Array<{ name: string; port: number }>;
  /** bind address of the Service ports (POD_IP from the downward API), else all interfaces */
  host: string;
  /** bind address of the control port */
  controlHost?: string;
  /** the tunnel secret; without one every CLI is refused and the agent only heals */
  secret?: string;
  /** how long to wait for the first CLI after start before healing */
  firstContactMs?: number;
  /** how long a connection to the control port may take to prove itself */
  authTimeoutMs?: number;
  log(line: string): void;
}

export async function runAgent(kube: KubeBridge, o: AgentOptions, signal: AbortSignal): Promise<number> {
  let session: YamuxSession | undefined;
  let lastSeen = Date.now();
  let everConnected = false;
  const waiting = new Set<() => void>();
  const servers: Server[] = [];
  let stats = { conns: 0, bytesIn: 0, bytesOut: 0 };

  const whenSession = (ms: number) =>
    new Promise<YamuxSession | undefined>((resolve) => {
      if (session) return resolve(session);
      const t = setTimeout(() => {
        waiting.delete(wake);
        resolve(session);
      }, ms);
      const wake = () => {
        clearTimeout(t);
        resolve(session);
      };
      waiting.add(wake);
    });

  const listen = (server: Server, port: number, host = o.host) =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve());
    });

  // Service ports: each connection goes to the CLI (intercept), or to an original pod with a copy to the
  // CLI (mirror). Service ports sharing a targetPort arrive on one socket: one listener for them.
  const listeners = o.ports.filter((p, i) => o.ports.findIndex((q) => q.port === p.port) === i);
  if (!o.secret) o.log("no tunnel secret: every CLI will be refused; the Service is restored once the grace period ends");
  const control = controlServer();
  await listen(control, o.controlPort, o.controlHost ?? "127.0.0.1");
  for (const p of listeners) {
    // half-open: a client that finishes sending still gets its reply (HTTP/1.0, `nc -q`, uploads)
    const server = createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
      socket.setNoDelay(true);
      stats.conns++;
      (o.mirror ? mirrorConnection(socket, p) : forwardConnection(socket, p)).catch((e) => {
        o.log(`connection on ${p.name}: ${(e as Error).message}`);
        socket.destroy();
      });
    });
    await listen(server, p.port);
    servers.push(server);
  }

  async function forwardConnection(socket: Socket, p: { name: string; port: number }) {
    socket.pause();
    // A CLI that is reconnecting gets a moment; a client must not hang for the whole grace period.
    const s = session ?? (await whenSession(Math.min(o.graceMs, 5000)));
    if (!s) throw new Error("no CLI attached");
    const stream = await s.createStream();
    stream.send(encodeHeader({ kind: KIND.conn, port: p.port, name: p.name }));
    socket.resume();
    await pipeStream(stream, socket, (dir, n) => (dir === "up" ? (stats.bytesIn += n) : (stats.bytesOut += n)));
  }

  async function mirrorConnection(socket: Socket, p: { name: string; port: number }) {
    socket.pause();
    const target = await originalTarget(kube, o, p.name);
    const upstream = connect({ port: target.port, host: target.ip, allowHalfOpen: true });
    upstream.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      upstream.once("connect", () => resolve());
      upstream.once("error", reject);
    });
    const s = session;
    const copy = s ? await s.createStream().catch(() => undefined) : undefined;
    if (copy) {
      copy.send(encodeHeader({ kind: KIND.mirror, port: p.port, name: p.name }));
      // the host's reply to a mirrored request is discarded
      copy.addEventListener("message", () => {});
    }
    socket.on("data", (chunk: Buffer) => {
      stats.bytesIn += chunk.length;
      // the copy never slows the real traffic: a host that cannot keep up loses its copy
      if (copy && copy.writeStatus === "writable") {
        if (copy.writeBufferLength > 4 * 1024 * 1024) copy.abort(new Error("mirror copy too slow"));
        else copy.send(chunk);
      }
    });
    socket.on("end", () => copy?.close().catch(() => {}));
    upstream.on("data", (chunk: Buffer) => (stats.bytesOut += chunk.length));
    socket.pipe(upstream);
    upstream.pipe(socket);
    socket.resume();
    await new Promise<void>((resolve) => {
      const done = () => {
        socket.destroy();
        upstream.destroy();
        copy?.close().catch(() => {});
        resolve();
      };
      upstream.on("close", done);
      socket.on("close", done);
      upstream.on("error", done);
      socket.on("error", done);
    });
  }

  // The control port: raw TCP arriving through the CLI's port-forward. A connection becomes the
  // session only after its control stream proves the secret, so neither a readiness probe nor a
  // peer that merely knows the session id can replace it, receive traffic or keep the agent alive.
  function controlServer(): Server {
    return createServer((socket) => {
      socket.setNoDelay(true);
      const candidate = yamuxOver(socket, "server");
      let authenticated = false;
      let controlStreams = 0;
      const refuse = (why: string) => {
        if (authenticated) return;
        o.log(`refusing a connection to the control port: ${why}`);
        socket.destroy();
      };
      const deadline = setTimeout(() => refuse("no valid hello in time"), o.authTimeoutMs ?? 10_000);
      candidate.addEventListener("stream", (evt) => {
        const stream = evt.detail;
        // the CLI opens exactly one stream, the control stream; anything else is not a devx CLI
        if (controlStreams++ > 0) return refuse("a second stream before or after the control stream");
        readHeader(stream)
          .then((h) => {
            if (h.kind !== KIND.control) throw new Error(`stream kind ${h.kind} where the control stream belongs`);
            const nonce = newChallenge();
            const send = controlChannel(stream, (m: ControlMessage) => {
              if (!authenticated) {
                if (m.t !== "hello") return refuse(`"${m.t}" before hello`);
                if (m.session !== o.session || !o.secret || !proofValid(o.secret, o.session, nonce, m.proof)) return refuse("wrong session or proof");
                authenticated = true;
                clearTimeout(deadline);
                if (session && session !== candidate) session.close().catch(() => {});
                session = candidate;
                everConnected = true;
                o.log("CLI attached");
                // answer at once: the CLI counts the tunnel up on the agent's first heartbeat
                send({ t: "hb", ...stats });
                for (const w of waiting) w();
                waiting.clear();
              }
              if (candidate === session) lastSeen = Date.now();
            });
            send({ t: "challenge", nonce });
            const hb = setInterval(() => authenticated && send({ t: "hb", ...stats }), 1000);
            stream.addEventListener("close", () => clearInterval(hb));
          })
          .catch((e) => refuse((e as Error).message));
      });
      socket.on("close", () => {
        clearTimeout(deadline);
        if (session === candidate) {
          session = undefined;
          o.log(`CLI detached; restoring the Service in ${o.graceMs} ms unless it comes back`);
        }
      });
      socket.on("error", () => {});
    });
  }
  // Readiness: the kubelet probes the pod IP, where the control port is not; this port only says "up".
  let health: Server | undefined;
  if (o.healthPort) {
    health = createServer((s) => s.destroy());
    await listen(health, o.healthPort);
  }
  o.log(`listening on ${o.host}: ${listeners.map((p) => `${p.name}=${p.port}`).join(", ")}; control on ${o.controlHost ?? "127.0.0.1"}:${o.controlPort}${o.healthPort ? `; health ${o.healthPort}` : ""}`);

  // The watchdog: heartbeats, not socket state, decide whether the CLI is alive.
  // without a secret no CLI can ever attach: waiting for one only keeps the Service away from its pods
  const firstContact = o.firstContactMs ?? (o.secret ? Math.max(o.graceMs, 60_000) : o.graceMs);
  const reason = await new Promise<string>((resolve) => {
    const t = setInterval(() => {
      const limit = everConnected ? o.graceMs : firstContact;
      if (Date.now() - lastSeen > limit) {
        clearInterval(t);
        resolve(everConnected ? `no heartbeat from the CLI for ${Date.now() - lastSeen} ms` : "no CLI attached after start");
      }
    }, 100);
    signal.addEventListener("abort", () => {
      clearInterval(t);
      resolve("terminated");
    });
  });
  o.log(`${reason}: restoring the Service selector`);
  for (const s of servers) s.close();
  control.close();
  health?.close();
  session?.close().catch(() => {});
  try {
    const restored = await restoreSelector(kube, o.namespace, o.service, o.session);
    o.log(restored ? `restored ${o.namespace}/${o.service}` : `${o.namespace}/${o.service} was not intercepted by this session; nothing to restore`);
    // Healed without the CLI: leave nothing the cluster will not reap. Its ServiceAccount goes now (the
    // last call: its token dies with it); the Role and RoleBinding are owned by the Job, which
    // ttlSecondsAfterFinished deletes with the pod once this process exits. (On SIGTERM the CLI's
    // disconnect or cleanup is deleting everything already.)
    if (reason !== "terminated") {
      await kube.delete(o.namespace, "ServiceAccount", agentName(o.session)).then(
        () => o.log(`deleted ServiceAccount ${agentName(o.session)}`),
        (e) => o.log(`could not delete ServiceAccount ${agentName(o.session)}: ${(e as Error).message}`),
      );
    }
    return 0;
  } catch (e) {
    o.log(`restore failed: ${(e as Error).message}`);
    return 1;
  }
}

/** Mirror mode: an original pod for a Service port (ready, selected by the original selector). */
async function originalTarget(kube: KubeBridge, o: AgentOptions, portName: string): Promise<{ ip: string; port: number }> {
  const svc = await kube.readService(o.namespace, o.service);
  const ann = readAnnotation(svc);
  if (!ann) throw new Error("the Service has no readable intercept annotation");
  const sp = svc.spec?.ports?.find((x) => (x.name ?? String(x.port)) === portName);
  const pods = await kube.listPods(o.namespace, labelSelector(ann.originalSelector));
  const ready = pods.filter((p) => p.status?.podIP && p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
  const pod = ready[Math.floor(Math.random() * ready.length)];
  if (!pod) throw new Error("no ready original pod to mirror to");
  const tp = sp?.targetPort ?? sp?.port;
  let port = typeof tp === "number" ? tp : Number(tp);
  if (!Number.isInteger(port)) {
    const cp = pod.spec?.containers.flatMap((c) => c.ports ?? []).find((x) => x.name === tp);
    if (!cp) throw new Error(`pod ${pod.metadata?.name} has no port named ${tp}`);
    port = cp.containerPort;
  }
  return { ip: pod.status!.podIP!, port };
}
