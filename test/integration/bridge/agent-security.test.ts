import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { echoPod, type FakeCluster } from "../../support/fake-kube/index.ts";
import { AGENT_IMAGE, bridgeCluster, createService, devxLeftovers, freePort, hostApp, viaService } from "./harness.ts";
import type { KubeClient } from "../../../providers/kube/client.ts";
import { openPortForward } from "../../../providers/kube/port-forward.ts";
import { runIntercept } from "../../../src/core/bridge/intercept.ts";
import { KIND, controlChannel, encodeHeader, tunnelProof, type ControlMessage } from "../../../src/protocol/bridge/wire.ts";
import { yamuxOver } from "../../../src/protocol/bridge/yamux.ts";

/**
 * The intercept agent as an attacker meets it: another pod that knows the session id (it is in the
 * agent's labels and Job name) and can reach the agent pod's IP, or even its control port.
 */
let cluster: FakeCluster;
let kube: KubeClient;
let deps: Awaited<ReturnType<typeof bridgeCluster>>["deps"];
let binary: string;

beforeAll(async () => {
  ({ cluster, kube, deps, binary } = await bridgeCluster());
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});

/**
 * A peer on the agent's control port that knows the session id but not the secret: it answers the
 * challenge with a proof made from a guess, then sends heartbeats. Counts the streams (connections)
 * the agent hands it.
 */
async function impostor(dial: () => Promise<import("node:stream").Duplex>, session: string) {
  const socket = await dial();
  const mux = yamuxOver(socket, "client");
  let streams = 0;
  const messages: ControlMessage[] = [];
  mux.addEventListener("stream", () => streams++);
  const control = await mux.createStream();
  control.send(encodeHeader({ kind: KIND.control, port: 0, name: "control" }));
  const send = controlChannel(control, (m) => {
    messages.push(m);
    if (m.t === "challenge") send({ t: "hello", session, version: "0.1.0", proof: tunnelProof("a guessed secret", session, m.nonce) });
  });
  const hb = setInterval(() => send({ t: "hb" }), 100);
  // the port-forward ends (the agent hung up) or fails
  const closed = new Promise<void>((resolve) => {
    for (const ev of ["end", "close", "error"]) socket.once(ev, () => resolve());
  });
  void closed.then(() => clearInterval(hb));
  return { streams: () => streams, messages, closed, stop: () => (clearInterval(hb), socket.destroy()) };
}

describe("intercept agent against another pod", () => {
  test("its control port is not on the pod IP; a peer with the session id but without the secret is refused and gets no traffic", async () => {
    await cluster.addAppPod({ name: "sec-1", labels: { app: "sec" }, ports: [{ name: "http", containerPort: 8080 }] }, echoPod);
    await createService(kube, "sec", { app: "sec" }, [{ name: "http", port: 80, targetPort: 8080 }]);
    const app = hostApp("laptop", await freePort());
    const h = await runIntercept(deps, { service: "sec", ports: [`http:${app.port}`], graceMs: 5000 });
    try {
      const pod = cluster.get("Pod", cluster.namespace, h.record.agentPod!)!;
      // what every pod can see: the session in the labels, the control port in the Job's args
      expect(pod.metadata.labels!["devx.session"]).toBe(h.session);
      const args: string[] = pod.spec.containers[0].args;
      expect(args.slice(0, 1)).toEqual(["bridge-agent"]);
      expect(Number(args[args.indexOf("--control-port") + 1])).toBe(h.record.controlPort);
      expect(JSON.stringify(pod)).not.toContain(h.record.secret);

      // another pod dials <agent pod IP>:<control port>: nothing listens there
      const refused = await new Promise<string>((resolve) => {
        const s = connect({ host: pod.status.podIP, port: h.record.controlPort });
        s.once("connect", () => (s.destroy(), resolve("connected")));
        s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      });
      expect(refused).toBe("ECONNREFUSED");

      // one that reaches the control port anyway (pods/portforward in the namespace) with the session id
      const evil = await impostor(() => openPortForward(kube, cluster.namespace, h.record.agentPod!, h.record.controlPort), h.session);
      await evil.closed;
      expect(evil.messages.map((m) => m.t)).toEqual(["challenge"]);
      // traffic still reaches the real CLI, and none of it the impostor
      for (let i = 0; i < 3; i++) expect((await viaService(cluster, "sec", "http", `/${i}`)).from).toBe("laptop");
      expect(evil.streams()).toBe(0);
      expect(cluster.podLogs(cluster.namespace, h.record.agentPod!)).toContain("refusing a connection to the control port: wrong session or proof");
    } finally {
      await h.stop();
      app.stop(true);
    }
    expect(devxLeftovers(cluster)).toEqual([]);
  }, 60_000);

  test("heartbeats from a peer without the secret do not keep the intercept alive after the CLI is killed", async () => {
    await cluster.addAppPod({ name: "hb-1", labels: { app: "hb" }, ports: [{ name: "http", containerPort: 8080 }] }, echoPod);
    await createService(kube, "hb", { app: "hb" }, [{ name: "http", port: 80, targetPort: 8080 }]);
    const app = hostApp("laptop", await freePort());
    const home = mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "home-"));
    const cli = Bun.spawn([binary, "bridge", "intercept", "hb", "--port", `http:${app.port}`, "--grace", "2s", "--json"], {
      env: { ...process.env, KUBECONFIG: cluster.kubeconfigPath, DEVX_AGENT_IMAGE: AGENT_IMAGE, DEVX_HOME: home, NO_COLOR: "1" },
      stdout: "pipe",
      stderr: "pipe",
    });
    let stop = false;
    try {
      await cluster.waitFor("Service", cluster.namespace, "hb", (s) => !!s?.metadata.annotations?.["devx.io/intercept"], 30_000);
      const agent = cluster.objects("Pod").find((p) => p.metadata.labels?.["devx.service"] === "hb")!;
      const session = agent.metadata.labels!["devx.session"]!;
      const args: string[] = agent.spec.containers[0].args;
      const controlPort = Number(args[args.indexOf("--control-port") + 1]);
      cli.kill("SIGKILL");
      const killedAt = Date.now();
      // the impostor keeps dialling and beating for as long as it is let in
      const beats = (async () => {
        while (!stop) {
          const evil = await impostor(() => openPortForward(kube, cluster.namespace, agent.metadata.name, controlPort), session).catch(() => undefined);
          await Promise.race([evil?.closed, Bun.sleep(500)]);
          evil?.stop();
        }
      })();
      await cluster.waitFor("Service", cluster.namespace, "hb", (s) => s?.spec.selector.app === "hb" && !s.metadata.annotations?.["devx.io/intercept"], 15_000);
      expect(Date.now() - killedAt).toBeLessThan(2000 + 5000);
      stop = true;
      await beats;
      expect((await viaService(cluster, "hb", "http")).pod).toBe("hb-1");
    } finally {
      stop = true;
      cli.kill("SIGKILL");
      app.stop(true);
    }
  }, 60_000);
});
