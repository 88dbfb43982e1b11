import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, mkdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { backOffMessage, configRefusal, launchArgv, processIdentity, pullError } from "./kubelet.ts";
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
  /** where pod directories go: traversable by any uid, since pods run as their runAsUser */
  workDir: string;
  issueToken: (namespace: string, serviceAccount: string) => string;
}

/** What started a pod's containers, so it can be stopped. */
interface Running {
  ip: string;
  /** process group of a process pod (its "network namespace" for port-forward); absent for app pods */
  pgid?: number;
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
  /** image pull retries and config-error waits, cleared on stop */
  private timers = new Set<ReturnType<typeof setTimeout>>();
  /** pods whose container config the kubelet refused, retried when a Secret or ConfigMap changes */
  private refused = new Map<string, KubeObject>();

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

  /** How port-forward reaches the pod: its process group (localhost in its namespace), or an app pod's IP. */
  podNetwork(ns: string, name: string): { pgid: number } | { ip: string } | undefined {
    const run = this.running.get(`${ns}/${name}`);
    if (!run) return undefined;
    return run.pgid ? { pgid: run.pgid } : { ip: run.ip };
  }

  private onEvent(ev: StoreEvent): void | Promise<void> {
    if (this.stopped) return;
    if ((ev.rt.kind === "Secret" || ev.rt.kind === "ConfigMap") && ev.type !== "DELETED") {
      for (const [key, pod] of [...this.refused]) {
        if (pod.metadata.namespace !== ev.object.metadata.namespace) continue;
        this.refused.delete(key);
        void this.start(pod);
      }
      return;
    }
    if (ev.rt !== PODS) return;
    if (ev.type === "DELETED") {
      this.logBuffers.delete(`${ev.object.metadata.namespace}/${ev.object.metadata.name}`);
      this.refused.delete(`${ev.object.metadata.namespace}/${ev.object.metadata.name}`);
    }
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
    const current = this.store.get(PODS, ns, name);
    if (!current) return;
    if (external) return this.run(current, ip, await external(current, ip));
    this.waiting(ns, name, "ContainerCreating");
    if (!this.opts.images[current.spec.containers[0].image]) return this.pullFails(ns, name);
    return this.start(current);
  }

  private waiting(ns: string, name: string, reason: string, message?: string): void {
    this.patchStatus(ns, name, (s, p) => {
      const c = p.spec.containers[0];
      s.containerStatuses = [{ name: c.name, image: c.image, imageID: "", ready: false, restartCount: 0, started: false, state: { waiting: { reason, ...(message ? { message } : {}) } } }];
    });
  }

  /** An image nobody has: ErrImagePull, then ImagePullBackOff, retried with a growing back-off (as the kubelet does, faster). */
  private pullFails(ns: string, name: string, attempt = 0): void {
    const image = this.store.get(PODS, ns, name)?.spec.containers[0].image;
    if (image === undefined || this.stopped) return;
    const later = (ms: number, fn: () => void) => {
      const t = setTimeout(() => (this.timers.delete(t), fn()), ms);
      this.timers.add(t);
    };
    later(attempt === 0 ? 300 : 0, () => {
      if (!this.store.get(PODS, ns, name)) return;
      this.waiting(ns, name, "ErrImagePull", pullError(image));
      later(1000, () => {
        if (!this.store.get(PODS, ns, name)) return;
        this.waiting(ns, name, "ImagePullBackOff", backOffMessage(image));
        later(Math.min(2000 * 2 ** attempt, 20_000), () => this.pullFails(ns, name, attempt + 1));
      });
    });
  }

  /** Runs container[0] of a pod whose image is there, unless its config is refused (retried when Secrets or ConfigMaps change). */
  private async start(pod: KubeObject): Promise<void> {
    const ns = pod.metadata.namespace!;
    const name = pod.metadata.name;
    const current = this.store.get(PODS, ns, name);
    if (!current || this.stopped || this.running.has(`${ns}/${name}`)) return;
    const container = current.spec.containers[0];
    const id = processIdentity(current, container);
    const refusal = configRefusal(current, container, id, (kind, n) => this.store.get(resourceByKind(kind), ns, n));
    if (refusal) {
      this.waiting(ns, name, "CreateContainerConfigError", refusal);
      this.refused.set(`${ns}/${name}`, current);
      return;
    }
    this.run(current, current.status.podIP, this.exec(current, current.status.podIP, id));
  }

  private run(pod: KubeObject, ip: string, run: Running): void {
    const ns = pod.metadata.namespace!;
    const name = pod.metadata.name;
    const key = `${ns}/${name}`;
    const container = pod.spec.containers[0];
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

  /**
   * Runs the first container as a local process in its own process group (so kill reaches children),
   * as its securityContext's user and group (setpriv, when the fake runs as root): a read-only root
   * filesystem is a working directory the process cannot write, the ServiceAccount token is mounted
   * (DEVX_SA_DIR) unless automountServiceAccountToken is false on the pod or its ServiceAccount.
   */
  private exec(pod: KubeObject, ip: string, id: ReturnType<typeof processIdentity>): Running {
    const ns = pod.metadata.namespace!;
    const container = pod.spec.containers[0];
    const dir = join(this.opts.workDir, `${ns}_${pod.metadata.name}_${pod.metadata.uid}`);
    const saDir = join(dir, "serviceaccount");
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
    if (!id.readOnlyRoot && process.getuid?.() === 0) chownSync(dir, id.uid, id.gid);
    const saName = pod.spec.serviceAccountName ?? "default";
    const sa = this.store.get(resourceByKind("ServiceAccount"), ns, saName);
    if ((pod.spec.automountServiceAccountToken ?? sa?.automountServiceAccountToken ?? true) !== false) {
      mkdirSync(saDir, { recursive: true, mode: 0o755 });
      // projected token volumes default to mode 0644: readable by whatever user the container runs as
      writeFileSync(join(saDir, "token"), this.opts.issueToken(ns, saName), { mode: 0o644 });
      writeFileSync(join(saDir, "ca.crt"), this.opts.caCert, { mode: 0o644 });
      writeFileSync(join(saDir, "namespace"), ns, { mode: 0o644 });
    }
    // The image's entrypoint is the mapped executable; `command[0]` names that entrypoint inside the image.
    const exe = this.opts.images[container.image]!;
    const argv = launchArgv([exe, ...(container.command ?? []).slice(1), ...(container.args ?? [])], id);
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
      pgid,
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
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
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
