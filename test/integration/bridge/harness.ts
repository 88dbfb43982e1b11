import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { mkdtempSync } from "node:fs";
import { startFakeCluster, type FakeCluster, type FakeClusterOptions } from "../../support/fake-kube/index.ts";
import { ensureBinary } from "../../support/binary.ts";
import { loadKube, type KubeClient } from "../../../providers/kube/client.ts";
import type { BridgeDeps } from "../../../src/core/bridge/settings.ts";
import type { DevxEvent } from "../../../src/events/types.ts";

export const AGENT_IMAGE = "localhost/devx-agent:test";

/** A fake cluster whose Jobs run the real compiled binary as the agent, plus a client and deps for it. */
export async function bridgeCluster(options: FakeClusterOptions = {}): Promise<{ cluster: FakeCluster; kube: KubeClient; deps: BridgeDeps & { events: DevxEvent[]; abort(): void; nextEvent(pred: (e: DevxEvent) => boolean): Promise<DevxEvent> }; binary: string }> {
  const binary = ensureBinary();
  const cluster = await startFakeCluster({ ...options, images: { [AGENT_IMAGE]: binary, ...options.images } });
  const kube = loadKube({ kubeconfig: cluster.kubeconfigPath });
  const events: DevxEvent[] = [];
  const listeners = new Set<(e: DevxEvent) => void>();
  const ac = new AbortController();
  const state = mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "bridge-state-"));
  const deps = {
    env: { ...process.env, KUBECONFIG: cluster.kubeconfigPath, DEVX_AGENT_IMAGE: AGENT_IMAGE },
    cwd: process.cwd(),
    paths: { state },
    emit: (e: DevxEvent) => {
      events.push(e);
      for (const l of listeners) l(e);
    },
    /** resolves with the first event (from now on) matching pred */
    nextEvent: (pred: (e: DevxEvent) => boolean) => new Promise<DevxEvent>((resolve) => {
      const l = (e: DevxEvent) => pred(e) && (listeners.delete(l), resolve(e));
      listeners.add(l);
    }),
    signal: ac.signal,
    findConfig: async () => undefined,
    events,
    abort: () => ac.abort(),
  };
  return { cluster, kube, deps, binary };
}

export async function createService(kube: KubeClient, name: string, selector: Record<string, string>, ports: Array<{ name?: string; port: number; targetPort?: number | string; protocol?: string }>, extra: Record<string, unknown> = {}) {
  return kube.core.createNamespacedService({
    namespace: kube.namespace,
    body: { apiVersion: "v1", kind: "Service", metadata: { name }, spec: { selector, ports: ports.map((p) => ({ protocol: "TCP", ...p })), ...extra } } as never,
  });
}

/** An HTTP app on 127.0.0.1 standing in for the developer's local build. */
export function hostApp(tag: string, port = 0) {
  return Bun.serve({ hostname: "127.0.0.1", port, fetch: async (req) => Response.json({ from: tag, path: new URL(req.url).pathname, body: req.method === "POST" ? await req.text() : "" }) });
}

export async function freePort(): Promise<number> {
  const s: Server = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** GET through the cluster's service proxy (what an in-cluster client would do). */
export async function viaService(cluster: FakeCluster, svc: string, port: string | number, path = "/"): Promise<{ from?: string; pod?: string }> {
  const r = await fetch(`http://${cluster.serviceAddress(cluster.namespace, svc, port)}${path}`, { headers: { connection: "close" } });
  return (await r.json()) as { from?: string; pod?: string };
}

/** devx-labelled objects left in the cluster. */
export function devxLeftovers(cluster: FakeCluster): string[] {
  const kinds = ["Job", "Pod", "ServiceAccount", "Secret", "Role", "RoleBinding", "NetworkPolicy"];
  const left = kinds.flatMap((k) => cluster.objects(k).filter((o) => o.metadata.labels?.["devx.managed"] === "true").map((o) => `${k}/${o.metadata.name}`));
  for (const s of cluster.objects("Service")) if (s.metadata.annotations?.["devx.io/intercept"]) left.push(`Service/${s.metadata.name} (annotated)`);
  return left;
}
