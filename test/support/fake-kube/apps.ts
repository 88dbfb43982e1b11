import net from "node:net";
import type { Running } from "./scheduler.ts";
import type { KubeObject } from "./store.ts";

/** Where an application pod's request came in: the pod and the container port. */
export interface AppPodInfo {
  name: string;
  namespace: string;
  ip: string;
  port: number;
  portName?: string;
}

export type AppFetch = (req: Request, pod: AppPodInfo) => Response | Promise<Response>;

/** An HTTP handler (Bun.serve per port), or raw TCP per connection for byte-level tests. */
export type AppHandler = AppFetch | { fetch?: AppFetch; tcp?: (socket: net.Socket, pod: AppPodInfo) => void };

export interface AppPodSpec {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ports: { name?: string; containerPort: number }[];
  /** The servers start listening (and the pod becomes Ready) this long after the pod is Running. */
  readyDelayMs?: number;
}

/** A pod a test added or restarted. */
export interface AppPod {
  name: string;
  namespace: string;
  ip: string;
  object: KubeObject;
}

/** Answers with who served the request, so tests can tell pods apart. */
export const echoPod: AppFetch = async (req, pod) => {
  const url = new URL(req.url);
  const body = req.method === "GET" || req.method === "HEAD" ? "" : await req.text();
  return Response.json({ pod: pod.name, namespace: pod.namespace, ip: pod.ip, port: pod.port, method: req.method, path: url.pathname + url.search, body });
};

export function appPodObject(spec: AppPodSpec, namespace: string): KubeObject {
  const ports = spec.ports.map((p) => ({ ...(p.name ? { name: p.name } : {}), containerPort: p.containerPort, protocol: "TCP" }));
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: spec.name, namespace, labels: { ...spec.labels }, ...(spec.annotations ? { annotations: { ...spec.annotations } } : {}) },
    spec: {
      containers: [{
        name: "app",
        image: "fake-kube/app:1",
        ports,
        // Ready once the servers accept connections, as a real readiness probe would see it.
        ...(ports[0] ? { readinessProbe: { tcpSocket: { port: ports[0].containerPort }, periodSeconds: 1 } } : {}),
      }],
      restartPolicy: "Always",
    },
  };
}

/** Starts the pod's servers on its IP (after readyDelayMs); stopping closes them and their connections. */
export function startAppServers(pod: KubeObject, ip: string, spec: AppPodSpec, handler: AppHandler | undefined): Running {
  const fetchFn = typeof handler === "function" ? handler : handler?.fetch ?? (handler?.tcp ? undefined : echoPod);
  const tcp = typeof handler === "object" ? handler.tcp : undefined;
  const closers: (() => void)[] = [];
  let done!: () => void;
  const exited = new Promise<void>((r) => (done = r));
  let stopped = false;
  const listen = () => {
    if (stopped) return;
    for (const p of spec.ports) {
      const info: AppPodInfo = { name: pod.metadata.name, namespace: pod.metadata.namespace!, ip, port: p.containerPort, portName: p.name };
      if (tcp) {
        const sockets = new Set<net.Socket>();
        const server = net.createServer((s) => {
          sockets.add(s);
          s.on("close", () => sockets.delete(s));
          s.on("error", () => {});
          tcp(s, info);
        });
        server.listen(p.containerPort, ip);
        closers.push(() => {
          server.close();
          for (const s of sockets) s.destroy();
        });
      } else {
        const server = Bun.serve({ hostname: ip, port: p.containerPort, fetch: (req) => fetchFn!(req, info) });
        closers.push(() => void server.stop(true));
      }
    }
  };
  const timer = setTimeout(listen, spec.readyDelayMs ?? 0);
  return {
    ip,
    logs: [],
    exited,
    stop: () => {
      if (stopped) return;
      stopped = true;
      clearTimeout(timer);
      for (const c of closers) c();
      done();
    },
  };
}
