import type { Readable } from "node:stream";

/**
 * The container runtime (podman, docker, nerdctl) behind small capability interfaces. Code asks
 * what a runtime can do (`checkpointer` present, `supportsCheckpoint()`), never its name.
 */
export interface ContainerInfo {
  id: string;
  name: string;
  image: string;
  state: "running" | "exited" | "created" | "paused" | string;
  labels: Record<string, string>;
  /** host port bindings: "127.0.0.1:5432->5432/tcp" */
  ports: Array<{ hostIp: string; hostPort: number; containerPort: number; protocol: string }>;
  /** named volumes mounted: volume name → mount path */
  volumes: Array<{ name: string; destination: string }>;
  createdAt?: string;
}

export interface VolumeInfo {
  name: string;
  labels: Record<string, string>;
  mountpoint?: string;
}

export interface RunSpec {
  name: string;
  image: string;
  command?: string[];
  env?: Record<string, string>;
  /** secrets: passed to the runtime through its environment, never argv (`-e NAME` without value) */
  secretEnv?: Record<string, string>;
  labels?: Record<string, string>;
  ports?: Array<{ hostIp?: string; hostPort: number; containerPort: number }>;
  volumes?: Array<{ name: string; destination: string }>;
  network?: string;
  workdir?: string;
  user?: string;
}

export interface Lister {
  listContainers(filter?: { labels?: Record<string, string>; all?: boolean }): Promise<ContainerInfo[]>;
  listVolumes(filter?: { labels?: Record<string, string> }): Promise<VolumeInfo[]>;
  inspectContainer(nameOrId: string): Promise<ContainerInfo | undefined>;
}

export interface Runner {
  run(spec: RunSpec): Promise<string>;
  start(name: string): Promise<void>;
  stop(name: string, graceSeconds?: number): Promise<void>;
  remove(name: string, opts?: { force?: boolean }): Promise<void>;
  exec(name: string, command: string[], opts?: { input?: string; timeoutMs?: number }): Promise<{ code: number; stdout: string; stderr: string }>;
  /** the container's output lines; with `stderr`, what it wrote to stderr too, interleaved as it arrives */
  logs(name: string, opts?: { follow?: boolean; tail?: number; since?: string; stderr?: boolean }): AsyncIterable<string>;
  imageExists(image: string): Promise<boolean>;
}

export interface VolumeExporter {
  createVolume(name: string, labels?: Record<string, string>): Promise<void>;
  removeVolume(name: string): Promise<void>;
  /** a plain tar stream of the volume's content */
  exportVolume(name: string): Readable;
  /**
   * Replace the volume's content with the tar stream (import into an emptied volume). A volume
   * still referenced by a (stopped) container cannot be recreated: it is emptied in place by a
   * throwaway container of `emptyWith` (an image with `sh` and `rm`), or this fails. `isEmpty`:
   * the caller emptied it already (its content was set aside).
   */
  importVolume(name: string, tar: Readable, opts?: { emptyWith?: string; isEmpty?: boolean }): Promise<void>;
}

export interface Checkpointer {
  /** true only when the runtime and `criu check` can checkpoint here */
  supportsCheckpoint(): Promise<{ ok: boolean; reason?: string }>;
  /** checkpoint a running container to a compressed archive stream; leaves it stopped unless leaveRunning */
  checkpoint(name: string, opts?: { leaveRunning?: boolean; tcpEstablished?: boolean }): Readable;
  /** restore a container from an archive (optionally under a new name) */
  restore(archive: Readable, opts?: { name?: string; tcpEstablished?: boolean }): Promise<string>;
  /** checkpoint straight into `file` (saves a copy of the archive when the caller keeps it on disk) */
  checkpointToFile?(name: string, file: string, opts?: { leaveRunning?: boolean; tcpEstablished?: boolean }): Promise<void>;
  /** restore from an archive file (saves staging a copy of it) */
  restoreFromFile?(file: string, opts?: { name?: string; tcpEstablished?: boolean }): Promise<string>;
  /** resume a container that was checkpointed (and so stopped) on this host, from its local checkpoint */
  resume?(name: string, opts?: { tcpEstablished?: boolean }): Promise<void>;
  /**
   * Run `fn` with the image's root filesystem visible at a path on this machine (read only by
   * devx: a bundle's checkpoint is checked against the symlinks of the image it restores onto).
   */
  withImageRoot?<T>(image: string, fn: (root: string) => Promise<T>): Promise<T>;
  /** the ID of `image` here, undefined when it is not here */
  imageId?(image: string): Promise<string | undefined>;
  /** the checkpoint engine's version ("4.2.1" for CRIU), recorded in bundle manifests */
  toolVersion?(): Promise<string | undefined>;
}

/** A running container's CPU and memory, as the runtime's `stats` reports them right now. */
export interface ContainerUsage {
  name: string;
  /** percent of one CPU */
  cpuPercent?: number;
  memBytes?: number;
}

export interface ContainerRuntime extends Lister, Runner, VolumeExporter {
  /** CPU and memory of running containers, by name (one `stats --no-stream` call) */
  usage?(names: string[]): Promise<ContainerUsage[]>;
  /** "podman", "docker", "nerdctl": for messages only, never for branching */
  readonly displayName: string;
  version(): Promise<string>;
  /**
   * Volume data directories (VolumeInfo.mountpoint) are directories of this machine, where devx
   * may move content itself (the runtime runs here, not in a VM or behind a remote socket).
   */
  readonly localVolumes?: boolean;
  /** present only where checkpoint/restore can work */
  readonly checkpointer?: Checkpointer;
}
