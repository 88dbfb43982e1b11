import { detectRuntime, type ContainerRuntime, type RuntimeDeps } from "../../../providers/runtime/index.ts";
import { LABEL } from "../labels.ts";
import { abortableExec } from "../db/db-context.ts";

export type { ContainerRuntime };

/**
 * The containers and databases devx created, as the dashboard lists them: selected by the devx
 * labels (never by name), so it also finds what a crashed run left behind. Goes through the
 * container runtime adapter (podman, docker or nerdctl, as detected for every other command).
 */
export interface DevxContainer {
  id: string;
  name: string;
  image: string;
  /** running, exited, created, paused… */
  state: string;
  project: string;
  kind: string;
  /** "127.0.0.1:5432->5432/tcp, …" */
  ports: string;
  /** named volumes, "name:/path" */
  volumes: string;
  labels: Record<string, string>;
  createdAt?: string;
}

export interface ContainerListing {
  /** for messages only ("podman") */
  runtimeName: string;
  /** the runtime the listing came from, for follow-up calls (log tail) */
  runtime: ContainerRuntime;
  containers: DevxContainer[];
}

/** The container runtime devx drives here ("podman"), as every command detects it; undefined when there is none. */
export function runtimeName(deps: RuntimeDeps, preferred?: string): string | undefined {
  try {
    return detectRuntime(deps, preferred).displayName;
  } catch {
    return undefined;
  }
}

/** Every devx-labelled container, stopped ones included, sorted by name. */
export async function listDevxContainers(deps: RuntimeDeps, opts: { preferred?: string } = {}): Promise<ContainerListing> {
  const runtime = detectRuntime(deps, opts.preferred);
  const found = await runtime.listContainers({ labels: { [LABEL.managed]: "true" }, all: true });
  return {
    runtimeName: runtime.displayName,
    runtime,
    containers: found.map((c) => ({
      id: c.id.slice(0, 12),
      name: c.name,
      image: c.image,
      state: c.state,
      project: c.labels[LABEL.project] ?? "",
      kind: c.labels[LABEL.kind] ?? "",
      ports: c.ports.map((p) => `${p.hostIp}:${p.hostPort}->${p.containerPort}/${p.protocol}`).join(", "),
      volumes: c.volumes.map((v) => `${v.name}:${v.destination}`).join(", "),
      labels: c.labels,
      createdAt: c.createdAt,
    })),
  };
}

/**
 * A container's output for the dashboard's log view: the last `tail` lines, then new ones as they
 * come (stdout and stderr), until the signal aborts, which ends the runtime's `logs -f` at once.
 */
export async function followContainerLogs(deps: RuntimeDeps, id: string, onLine: (line: string) => void, signal: AbortSignal, opts: { preferred?: string; tail?: number } = {}): Promise<void> {
  const runtime = detectRuntime({ ...deps, exec: abortableExec(deps.exec, signal) }, opts.preferred);
  try {
    for await (const l of runtime.logs(id, { follow: true, tail: opts.tail ?? 200, stderr: true })) {
      if (signal.aborted) break;
      onLine(l);
    }
  } catch (e) {
    if (!signal.aborted) throw e;
  }
}
