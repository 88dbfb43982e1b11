import { jobSelectorDefaults } from "./defaults.ts";
import type { Deleter } from "./gc.ts";
import { type KubeObject, resourceByKind, type Store, type StoreEvent } from "./store.ts";

/**
 * The Job controller (NonIndexed, one pod at a time): creates `<job>-<5 chars>` pods owned by the
 * Job, replaces failed ones up to backoffLimit, enforces activeDeadlineSeconds, keeps
 * status.active/ready/succeeded/failed and the Complete/Failed conditions, and deletes finished
 * Jobs after ttlSecondsAfterFinished.
 */

const JOBS = resourceByKind("Job");
const PODS = resourceByKind("Pod");
const SERVICE_ACCOUNTS = resourceByKind("ServiceAccount");
const stamp = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");
const RAND = "bcdfghjklmnpqrstvwxz2456789";

export function randomSuffix(): string {
  let s = "";
  for (let i = 0; i < 5; i++) s += RAND[Math.floor(Math.random() * RAND.length)];
  return s;
}

interface JobState {
  succeeded: number;
  failed: number;
  counted: Set<string>;
  timers: ReturnType<typeof setTimeout>[];
  finished: boolean;
}

export class JobController {
  private jobs = new Map<string, JobState>();
  private stopped = false;

  constructor(private store: Store, private deleter: Deleter) {
    store.subscribe((ev) => this.onEvent(ev));
  }

  stopAll(): void {
    this.stopped = true;
    for (const s of this.jobs.values()) for (const t of s.timers) clearTimeout(t);
    this.jobs.clear();
  }

  private onEvent(ev: StoreEvent): void {
    if (this.stopped) return;
    if (ev.rt === JOBS) {
      const key = `${ev.object.metadata.namespace}/${ev.object.metadata.name}`;
      if (ev.type === "ADDED") this.start(ev.object);
      if (ev.type === "DELETED") {
        for (const t of this.jobs.get(key)?.timers ?? []) clearTimeout(t);
        this.jobs.delete(key);
      }
      return;
    }
    if (ev.rt === SERVICE_ACCOUNTS && ev.type === "ADDED") {
      // Jobs waiting for their ServiceAccount (pod admission refused them) retry now.
      for (const job of this.store.list(JOBS, ev.object.metadata.namespace)) {
        if (!job.status?.active && !this.jobs.get(`${job.metadata.namespace}/${job.metadata.name}`)?.finished) this.sync(job);
      }
      return;
    }
    if (ev.rt === PODS) {
      const owner = (ev.object.metadata.ownerReferences ?? []).find((r: any) => r.kind === "Job" && r.controller);
      if (!owner) return;
      const job = this.store.get(JOBS, ev.object.metadata.namespace, owner.name);
      if (job && job.metadata.uid === owner.uid) this.sync(job, ev);
    }
  }

  private start(job: KubeObject): void {
    const key = `${job.metadata.namespace}/${job.metadata.name}`;
    const state: JobState = { succeeded: 0, failed: 0, counted: new Set(), timers: [], finished: false };
    this.jobs.set(key, state);
    const started = this.store.mutate(JOBS, job.metadata.namespace, job.metadata.name, (o) => {
      jobSelectorDefaults(o);
      o.status = { ...o.status, startTime: stamp(), active: 0, ready: 0, terminating: 0 };
    });
    const deadline = job.spec?.activeDeadlineSeconds;
    if (deadline) state.timers.push(setTimeout(() => this.fail(key, "DeadlineExceeded", "Job was active longer than specified deadline"), deadline * 1000));
    if (started) this.sync(started);
  }

  private pods(job: KubeObject): KubeObject[] {
    return this.store.list(PODS, job.metadata.namespace).filter((p) =>
      (p.metadata.ownerReferences ?? []).some((r: any) => r.uid === job.metadata.uid));
  }

  private createPod(job: KubeObject): void {
    const ns = job.metadata.namespace!;
    const tpl = job.spec.template;
    const sa = tpl.spec.serviceAccountName ?? "default";
    // Pod admission refuses a pod whose ServiceAccount does not exist; the controller retries on its creation.
    if (!this.store.get(SERVICE_ACCOUNTS, ns, sa)) return;
    this.store.create(PODS, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: `${job.metadata.name}-${randomSuffix()}`,
        namespace: ns,
        labels: { ...tpl.metadata?.labels },
        ...(tpl.metadata?.annotations ? { annotations: { ...tpl.metadata.annotations } } : {}),
        ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: job.metadata.name, uid: job.metadata.uid, controller: true, blockOwnerDeletion: true }],
      },
      spec: structuredClone(tpl.spec),
      status: { phase: "Pending" },
    });
  }

  private sync(job: KubeObject, ev?: StoreEvent): void {
    const key = `${job.metadata.namespace}/${job.metadata.name}`;
    const state = this.jobs.get(key);
    if (!state) return;
    if (ev && !state.counted.has(ev.object.metadata.uid)) {
      const phase = ev.object.status?.phase;
      if (phase === "Succeeded" || phase === "Failed") {
        state.counted.add(ev.object.metadata.uid);
        if (phase === "Succeeded") state.succeeded++;
        else state.failed++;
      }
    }
    const pods = this.pods(job);
    const live = pods.filter((p) => !["Succeeded", "Failed"].includes(p.status?.phase) && !p.metadata.deletionTimestamp);
    const ready = live.filter((p) => (p.status?.conditions ?? []).some((c: any) => c.type === "Ready" && c.status === "True")).length;
    const terminating = pods.filter((p) => p.metadata.deletionTimestamp).length;
    const completions = job.spec.completions ?? 1;
    if (!state.finished && state.succeeded >= completions) return this.finish(key, "Complete", undefined, undefined, { active: live.length, ready, terminating });
    if (!state.finished && state.failed > (job.spec.backoffLimit ?? 6)) {
      return this.fail(key, "BackoffLimitExceeded", "Job has reached the specified backoff limit");
    }
    if (!state.finished && live.length === 0 && !job.metadata.deletionTimestamp) this.createPod(job);
    const now = this.pods(job).filter((p) => !["Succeeded", "Failed"].includes(p.status?.phase) && !p.metadata.deletionTimestamp).length;
    this.store.mutate(JOBS, job.metadata.namespace, job.metadata.name, (o) => {
      o.status = { ...o.status, active: now, ready, terminating, succeeded: state.succeeded || undefined, failed: state.failed || undefined };
      if (!o.status.succeeded) delete o.status.succeeded;
      if (!o.status.failed) delete o.status.failed;
    });
  }

  private fail(key: string, reason: string, message: string): void {
    const state = this.jobs.get(key);
    const [ns, name] = key.split("/") as [string, string];
    const job = this.store.get(JOBS, ns, name);
    if (!state || !job || state.finished) return;
    state.finished = true;
    // Active pods of a failed Job are killed, as upstream does.
    for (const p of this.pods(job)) {
      if (!["Succeeded", "Failed"].includes(p.status?.phase)) this.deleter.delete(PODS, ns, p.metadata.name);
    }
    this.finish(key, "Failed", reason, message, { active: 0, ready: 0 });
  }

  private finish(key: string, type: "Complete" | "Failed", reason: string | undefined, message: string | undefined, counts: Record<string, number>): void {
    const state = this.jobs.get(key)!;
    state.finished = true;
    const [ns, name] = key.split("/") as [string, string];
    const t = stamp();
    const interim = type === "Complete" ? "SuccessCriteriaMet" : "FailureTarget";
    const job = this.store.mutate(JOBS, ns, name, (o) => {
      o.status = {
        ...o.status,
        ...counts,
        ...(state.succeeded ? { succeeded: state.succeeded } : {}),
        ...(state.failed ? { failed: state.failed } : {}),
        ...(type === "Complete" ? { completionTime: t } : {}),
        conditions: [
          { type: interim, status: "True", lastProbeTime: t, lastTransitionTime: t, ...(reason ? { reason, message } : { reason: "CompletionsReached", message: "Reached expected number of succeeded pods" }) },
          { type, status: "True", lastProbeTime: t, lastTransitionTime: t, ...(reason ? { reason, message } : { reason: "CompletionsReached", message: "Reached expected number of succeeded pods" }) },
        ],
      };
    });
    const ttl = job?.spec?.ttlSecondsAfterFinished;
    if (ttl !== undefined && ttl !== null) {
      state.timers.push(setTimeout(() => this.deleter.delete(JOBS, ns, name, { propagationPolicy: "Background" }), ttl * 1000));
    }
  }
}
