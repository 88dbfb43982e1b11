import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { type KubeObject, resourceByKind, type Store, type StoreEvent } from "./store.ts";

/**
 * The kubelet of the fake: every Pod gets its own loopback IP (127.B.x.y) and runs for real — an
 * application pod as in-process servers on that IP, any other pod (Job pods) as a local process
 * whose image is mapped to an executable. Pod status follows what the kubelet would report.
 */

const PODS = resourceByKind("Pod");
const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");

export interface PodRuntimeOptions {
  images: Record<string, string>;
  apiPort: () => number;
  caCert: string;
  workDir: string;
  issueToken: (namespace: string, serviceAccount: string) => string;
}

/** What started a pod's containers, so it can be stopped. */
interface Running {
  ip: string;
  stop: (signal: NodeJS.Signals) => void;
  exited: Promise<void>;
  probe?: ReturnType<typeof setTimeout>;
  graceTimer?: ReturnType<typeof setTimeout>;
  logs: string[];
}

/** Process groups of every pod process alive in this test process, SIGKILLed if it exits without stop(). */
const liveGroups = new Set<number>();
process.once("exit", () => {
  for (const pgid of liveGroups) {
    try { process.kill(-pgid, "SIGKILL"); } catch { /* already gone */ }
  }
});

let lastBlock = 0;
function nextBlock(): number {
  // Random start per process, then sequential within it.
  lastBlock = lastBlock === 0 ? 1 + Math.floor(Math.random() * 254) : (lastBlock % 254) + 1;
  return lastBlock;
}

export class Scheduler {
  private nextIp = 0;
  private running = new Map<string, Running>();
  /** Pods whose containers the test provides (addAppPod): the ADDED handler must not exec them. */
  private external = new Map<string, (pod: KubeObject, ip: string) => Promise<Running>>();
  private stopped = false;

  constructor(private store: Store, private opts: PodRuntimeOptions) {
    store.subscribe((ev) => this.onEvent(ev));
  }

  /**
   * Pod IPs come from a /16 of 127.0.0.0/8 picked at random per cluster (never 127.0.x.x), then
   * counted up: clusters in parallel test processes must not hand out the same address.
   */
  allocateIp(): string {
    const n = this.nextIp++;
    return `127.${this.block}.${Math.floor(n / 254) % 256}.${(n % 254) + 1}`;
  }

  private block = nextBlock();

  /** Registers the in-process starter of a pod about to be created through the store. */
  provide(ns: string, name: string, start: (pod: KubeObject, ip: string) => Promise<Running>): void {
    this.external.set(`${ns}/${name}`, start);
  }

  /** Container output per pod, kept until the pod object is deleted (like `kubectl logs`). */
  private logBuffers = new Map<string, string[]>();

  logs(ns: string, name: string): string {
    return this.logBuffers.get(`${ns}/${name}`)?.join("") ?? "";
  }

  private onEvent(ev: StoreEvent): void | Promise<void> {
    if (ev.rt !== PODS || this.stopped) return;
    if (ev.type === "DELETED") this.logBuffers.delete(`${ev.object.metadata.namespace}/${ev.object.metadata.name}`);
    if (ev.type === "ADDED" && !ev.object.spec?.nodeName) return this.schedule(ev.object);
  }

  private patchStatus(ns: string, name: string, fn: (status: any, pod: KubeObject) => void): KubeObject | undefined {
    return this.store.mutate(PODS, ns, name, (p) => fn((p.status ??= {}), p));
  }

  private async schedule(pod: KubeObject): Promise<void> {
    const ns = pod.metadata.namespace!;
    const name = pod.metadata.name;
    const ip = this.allocateIp();
    this.store.mutate(PODS, ns, name, (p) => {
      p.spec.nodeName = "fake-node";
      Object.assign((p.status ??= {}), {
        phase: "Pending", hostIP: "127.0.0.1", hostIPs: [{ ip: "127.0.0.1" }], podIP: ip, podIPs: [{ ip }], startTime: now(),
        conditions: [
          { type: "PodScheduled", status: "True", lastTransitionTime: now() },
          { type: "Initialized", status: "True", lastTransitionTime: now() },
          { type: "ContainersReady", status: "False", lastTransitionTime: now() },
          { type: "Ready", status: "False", lastTransitionTime: now() },
        ],
      });
    });
    const key = `${ns}/${name}`;
    const external = this.external.get(key);
    this.external.delete(key);
    const container = pod.spec.containers[0];
    if (!external && !this.opts.images[container.image]) {
      this.patchStatus(ns, name, (s) => {
        s.containerStatuses = [{ name: container.name, image: container.image, imageID: "", ready: false, restartCount: 0, started: false,
          state: { waiting: { reason: "ErrImagePull", message: `fake-kube: image "${container.image}" is not mapped to an executable (startFakeCluster({images}))` } } }];
      });
      return;
    }
    const current = this.store.get(PODS, ns, name);
    if (!current) return;
    const run = external ? await external(current, ip) : this.exec(current, ip);
    this.running.set(key, run);
    const started = now();
    const probe = container.readinessProbe;
    this.patchStatus(ns, name, (s) => {
      s.phase = "Running";
      s.containerStatuses = [{ name: container.name, image: container.image, imageID: `fake://${container.image}`, containerID: `fake://${key}`,
        ready: false, restartCount: 0, started: true, state: { running: { startedAt: started } } }];
    });
    run.exited.then(() => this.onExit(ns, name));
    if (!probe) this.setReady(ns, name, true);
    else this.startProbe(ns, name, ip, container, run);
  }

  private setReady(ns: string, name: string, ready: boolean): void {
    this.patchStatus(ns, name, (s, p) => {
      if (ready && (s.phase !== "Running" || p.metadata.deletionTimestamp)) return;
      for (const c of s.conditions ?? []) {
        if ((c.type === "Ready" || c.type === "ContainersReady") && c.status !== (ready ? "True" : "False")) {
          c.status = ready ? "True" : "False";
          c.lastTransitionTime = now();
        }
      }
      for (const cs of s.containerStatuses ?? []) cs.ready = ready;
    });
  }

  /** Readiness as the kubelet probes it (every periodSeconds), but every 50 ms until the first success (tests wait on it). */
  private startProbe(ns: string, name: string, ip: string, container: any, run: Running): void {
    const p = container.readinessProbe;
    const named = (port: unknown) => typeof port === "string" ? container.ports?.find((cp: any) => cp.name === port)?.containerPort : port;
    let ready = false;
    let failures = 0;
    const check = async (): Promise<boolean> => {
      if (p.tcpSocket) {
        return await new Promise<boolean>((resolve) => {
          const s = net.connect({ host: ip, port: Number(named(p.tcpSocket.port)) });
          s.setTimeout(1000, () => { s.destroy(); resolve(false); });
          s.once("connect", () => { s.destroy(); resolve(true); });
          s.once("error", () => resolve(false));
        });
      }
      if (p.httpGet) {
        const r = await fetch(`http://${ip}:${named(p.httpGet.port)}${p.httpGet.path ?? "/"}`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
        return !!r && r.status >= 200 && r.status < 400;
      }
      return true;
    };
    const tick = async () => {
      if (!this.running.has(`${ns}/${name}`) || this.stopped) return;
      const ok = await check();
      if (ok && !ready) this.setReady(ns, name, (ready = true));
      failures = ok ? 0 : failures + 1;
      if (!ok && ready && failures >= (p.failureThreshold ?? 3)) this.setReady(ns, name, (ready = false));
      if (this.running.get(`${ns}/${name}`) === run) run.probe = setTimeout(tick, ready ? (p.periodSeconds ?? 10) * 1000 : 50);
    };
    run.probe = setTimeout(tick, (p.initialDelaySeconds ?? 0) * 1000);
  }

  private resolveEnv(pod: KubeObject, container: any, ip: string): Record<string, string> {
    const field = (path: string): string => {
      const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
      if (m) return pod.metadata[m[1]!]?.[m[2]!] ?? "";
      const known: Record<string, string | undefined> = {
        "status.podIP": ip, "status.podIPs": ip, "status.hostIP": "127.0.0.1", "metadata.name": pod.metadata.name,
        "metadata.namespace": pod.metadata.namespace, "metadata.uid": pod.metadata.uid, "spec.nodeName": "fake-node",
        "spec.serviceAccountName": pod.spec.serviceAccountName,
      };
      return known[path] ?? "";
    };
    const fromRef = (kind: string, ref: any): string => {
      const obj = this.store.get(resourceByKind(kind), pod.metadata.namespace, ref?.name ?? "");
      const v = obj?.data?.[ref?.key];
      return kind === "Secret" && typeof v === "string" ? Buffer.from(v, "base64").toString() : v ?? "";
    };
    const env: Record<string, string> = {};
    for (const e of container.env ?? []) {
      const vf = e.valueFrom;
      env[e.name] = vf?.fieldRef ? field(vf.fieldRef.fieldPath)
        : vf?.configMapKeyRef ? fromRef("ConfigMap", vf.configMapKeyRef)
        : vf?.secretKeyRef ? fromRef("Secret", vf.secretKeyRef)
        : String(e.value ?? "").replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, v) => env[v] ?? all);
    }
    return env;
  }

  /** Runs the first container as a local process in its own process group (so kill reaches children). */
  private exec(pod: KubeObject, ip: string): Running {
    const ns = pod.metadata.namespace!;
    const container = pod.spec.containers[0];
    const dir = join(this.opts.workDir, "pods", `${ns}_${pod.metadata.name}_${pod.metadata.uid}`);
    const saDir = join(dir, "serviceaccount");
    mkdirSync(saDir, { recursive: true });
    writeFileSync(join(saDir, "token"), this.opts.issueToken(ns, pod.spec.serviceAccountName ?? "default"), { mode: 0o600 });
    writeFileSync(join(saDir, "ca.crt"), this.opts.caCert);
    writeFileSync(join(saDir, "namespace"), ns);
    // The image's entrypoint is the mapped executable; `command[0]` names that entrypoint inside the image.
    const exe = this.opts.images[container.image]!;
    const argv = [exe, ...(container.command ?? []).slice(1), ...(container.args ?? [])];
    const env = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: dir,
      HOSTNAME: pod.metadata.name,
      KUBERNETES_SERVICE_HOST: "127.0.0.1",
      KUBERNETES_SERVICE_PORT: String(this.opts.apiPort()),
      KUBERNETES_SERVICE_PORT_HTTPS: String(this.opts.apiPort()),
      DEVX_SA_DIR: saDir,
      ...this.resolveEnv(pod, container, ip),
    };
    const logs: string[] = [];
    this.logBuffers.set(`${ns}/${pod.metadata.name}`, logs);
    const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { cwd: dir, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.on("data", (d) => logs.push(String(d)));
    child.stderr?.on("data", (d) => logs.push(String(d)));
    const pgid = child.pid;
    if (pgid) liveGroups.add(pgid);
    let code: number | null = null;
    const exited = new Promise<void>((resolve) => {
      child.once("error", (e) => { logs.push(`fake-kube: exec failed: ${e.message}\n`); code = 128; resolve(); });
      // "close", not "exit": the pod is done once its output is fully read.
      child.once("close", (c, sig) => {
        if (pgid) liveGroups.delete(pgid);
        code = c ?? (sig ? 128 + (sig === "SIGKILL" ? 9 : 15) : 1);
        resolve();
      });
    });
    const run: Running = {
      ip,
      logs,
      exited,
      stop: (signal) => {
        try { if (child.pid) process.kill(-child.pid, signal); } catch { /* already gone */ }
      },
    };
    (run as any).exitCode = () => code;
    return run;
  }

  private onExit(ns: string, name: string): void {
    const key = `${ns}/${name}`;
    const run = this.running.get(key);
    if (run?.probe) clearTimeout(run.probe);
    if (run?.graceTimer) clearTimeout(run.graceTimer);
    this.running.delete(key);
    if (this.stopped) return;
    const code: number = (run as any)?.exitCode?.() ?? 0;
    const pod = this.patchStatus(ns, name, (s) => {
      s.phase = code === 0 ? "Succeeded" : "Failed";
      for (const c of s.conditions ?? []) if (c.type === "Ready" || c.type === "ContainersReady") c.status = "False";
      for (const cs of s.containerStatuses ?? []) {
        const startedAt = cs.state?.running?.startedAt ?? now();
        cs.ready = false;
        cs.started = false;
        cs.state = { terminated: { exitCode: code, reason: code === 0 ? "Completed" : "Error", startedAt, finishedAt: now(), containerID: cs.containerID } };
      }
    });
    if (pod?.metadata.deletionTimestamp) this.store.remove(PODS, ns, name);
  }

  /**
   * Graceful deletion: the pod is marked (deletionTimestamp, not ready), its containers get SIGTERM
   * and SIGKILL after the grace period; the object goes away once they are stopped. Pods that never
   * ran are removed at once.
   */
  terminate(ns: string, name: string, graceSeconds?: number): KubeObject | undefined {
    const run = this.running.get(`${ns}/${name}`);
    const pod = this.store.get(PODS, ns, name);
    if (!pod) return undefined;
    if (!run) return this.store.remove(PODS, ns, name);
    if (pod.metadata.deletionTimestamp) return pod;
    const grace = graceSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
    const marked = this.store.mutate(PODS, ns, name, (p) => {
      p.metadata.deletionTimestamp = new Date(Date.now() + grace * 1000).toISOString().replace(/\.\d+Z$/, "Z");
      p.metadata.deletionGracePeriodSeconds = grace;
      for (const c of p.status?.conditions ?? []) if (c.type === "Ready" || c.type === "ContainersReady") c.status = "False";
    });
    if (run.probe) clearTimeout(run.probe);
    run.stop(grace === 0 ? "SIGKILL" : "SIGTERM");
    if (grace > 0) run.graceTimer = setTimeout(() => run.stop("SIGKILL"), grace * 1000);
    return marked;
  }

  /** Kills every process and server this cluster started and waits for them to be gone. */
  async stopAll(): Promise<void> {
    this.stopped = true;
    const all = [...this.running.values()];
    for (const r of all) {
      if (r.probe) clearTimeout(r.probe);
      if (r.graceTimer) clearTimeout(r.graceTimer);
      r.stop("SIGKILL");
    }
    await Promise.all(all.map((r) => r.exited));
    this.running.clear();
  }
}

export type { Running };
