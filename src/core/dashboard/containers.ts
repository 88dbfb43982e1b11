import type { Exec } from "../../platform/exec.ts";
import { execCheck } from "../../platform/exec.ts";
import { ProviderError } from "../../errors.ts";
import { LABEL } from "../labels.ts";

/**
 * The containers and databases devx created, as the dashboard lists them: selected by the devx
 * labels (never by name), so it also finds what a crashed run left behind.
 */
export interface DevxContainer {
  id: string;
  name: string;
  image: string;
  /** running, exited, created, paused… */
  state: string;
  /** the runtime's own words, e.g. "Up 5 minutes" */
  status: string;
  project: string;
  kind: string;
  /** "127.0.0.1:5432->5432/tcp, …" */
  ports: string;
  labels: Record<string, string>;
  /** unix seconds */
  created?: number;
}

export interface ContainerListing {
  runtime: string;
  containers: DevxContainer[];
}

interface PodmanPs {
  Id: string;
  Names?: string[];
  Image?: string;
  State?: string;
  Status?: string;
  Labels?: Record<string, string> | null;
  Ports?: Array<{ host_ip?: string; host_port?: number; container_port?: number; protocol?: string; range?: number }> | null;
  Created?: number;
}

function fromPodman(c: PodmanPs): DevxContainer {
  const labels = c.Labels ?? {};
  const ports = (c.Ports ?? []).map((p) => `${p.host_ip || "0.0.0.0"}:${p.host_port}->${p.container_port}/${p.protocol ?? "tcp"}`).join(", ");
  return {
    id: c.Id.slice(0, 12),
    name: c.Names?.[0] ?? c.Id.slice(0, 12),
    image: c.Image ?? "",
    state: c.State ?? "unknown",
    status: c.Status ?? c.State ?? "",
    project: labels[LABEL.project] ?? "",
    kind: labels[LABEL.kind] ?? "",
    ports,
    labels,
    created: c.Created,
  };
}

interface DockerPs {
  ID: string;
  Names?: string;
  Image?: string;
  State?: string;
  Status?: string;
  Labels?: string;
  Ports?: string;
}

function fromDocker(c: DockerPs): DevxContainer {
  // docker prints labels as one "k=v,k=v" string
  const labels = Object.fromEntries((c.Labels ?? "").split(",").filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
  return {
    id: c.ID.slice(0, 12),
    name: c.Names ?? c.ID.slice(0, 12),
    image: c.Image ?? "",
    state: c.State ?? "unknown",
    status: c.Status ?? "",
    project: labels[LABEL.project] ?? "",
    kind: labels[LABEL.kind] ?? "",
    ports: c.Ports ?? "",
    labels,
  };
}

/** Lists devx-labelled containers from podman (or docker when podman is absent). */
export async function listDevxContainers(deps: { exec: Exec }, opts: { signal?: AbortSignal } = {}): Promise<ContainerListing> {
  const filter = `label=${LABEL.managed}=true`;
  if (deps.exec.which("podman")) {
    const r = await execCheck(deps.exec, ["podman", "ps", "-a", "--format", "json", "--filter", filter], { timeoutMs: 15_000, signal: opts.signal }, "check that podman works: `podman ps`, then `devx doctor`");
    const rows = JSON.parse(r.stdout || "[]") as PodmanPs[];
    return { runtime: "podman", containers: rows.map(fromPodman).sort((a, b) => a.name.localeCompare(b.name)) };
  }
  if (deps.exec.which("docker")) {
    const r = await execCheck(deps.exec, ["docker", "ps", "-a", "--format", "{{json .}}", "--filter", filter], { timeoutMs: 15_000, signal: opts.signal }, "check that docker works: `docker ps`, then `devx doctor`");
    const rows = r.stdout.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l) as DockerPs);
    return { runtime: "docker", containers: rows.map(fromDocker).sort((a, b) => a.name.localeCompare(b.name)) };
  }
  throw new ProviderError("no container runtime found (podman or docker)", "install podman, then run `devx doctor`");
}

/** The last lines a container printed (its stdout lines, then its stderr lines). */
export async function containerLogTail(deps: { exec: Exec }, runtime: string, id: string, lines = 50): Promise<string[]> {
  const r = await execCheck(deps.exec, [runtime, "logs", "--tail", String(lines), id], { timeoutMs: 15_000 }, `run \`${runtime} logs ${id}\` to see why`);
  return (r.stdout + r.stderr).split("\n").filter((l, i, all) => l !== "" || i < all.length - 1);
}
