import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ProviderError } from "../../src/errors.ts";
import { execCheck, type Exec } from "../../src/platform/exec.ts";
import type { Checkpointer, ContainerInfo, VolumeInfo } from "./types.ts";
import { CliRuntime, finishListing, labelFilters, parseJsonArray, sortPorts, volumeInfos, type CliRuntimeOptions, type VolumeJson } from "./cli-family.ts";
import { readFromFifo, writeToProcess } from "./streams.ts";
import type { HostFacts } from "./host-facts.ts";

export interface PodmanOptions extends Omit<CliRuntimeOptions, "bin"> {
  bin?: string;
  /** where archives are staged (podman's checkpoint export/import take only a file) and volume-export FIFOs made; large, so not /tmp */
  tmpDir: string;
}

/**
 * Podman: native `volume export`/`volume import`, and a CRIU checkpointer. The checkpointer object
 * is always present (podman can checkpoint in principle) but `supportsCheckpoint()` runs the real
 * probes (`criu check`, rootful, an OCI runtime that supports it) and says why not.
 */
export class PodmanRuntime extends CliRuntime {
  override readonly checkpointer: Checkpointer;

  protected override statsFormat(): string[] {
    return ["--format", "json"];
  }
  private readonly tmpDir: string;

  constructor(opts: PodmanOptions) {
    super({ ...opts, bin: opts.bin ?? "podman" });
    this.tmpDir = opts.tmpDir;
    this.checkpointer = new PodmanCheckpointer(this.cmd, this.bin, this.tmpDir, this.facts);
  }

  /**
   * One `ps --format json` says everything devx reads about a container except the names of the
   * volumes it mounts (ps gives mount destinations only): only containers that mount something
   * are inspected as well. Saves a podman process (~40 ms, sequential after ps) on every state
   * command in the common case.
   */
  override async listContainers(filter: { labels?: Record<string, string>; all?: boolean } = {}): Promise<ContainerInfo[]> {
    const r = await this.run_(["ps", "--format", "json", ...(filter.all ? ["-a"] : []), ...labelFilters(filter.labels)]);
    const rows = parseJsonArray<PsJson>(r.stdout, "ps");
    const inspected = await this.inspectMany(rows.filter((c) => (c.Mounts ?? []).length > 0).map((c) => c.Id));
    const plain = rows.filter((c) => (c.Mounts ?? []).length === 0).map(fromPs);
    return finishListing([...plain, ...inspected], filter.labels);
  }

  /** podman's `volume ls` JSON has the labels and mountpoint already: no `volume inspect` after it */
  override async listVolumes(filter: { labels?: Record<string, string> } = {}): Promise<VolumeInfo[]> {
    const r = await this.run_(["volume", "ls", "--format", "json", ...labelFilters(filter.labels)]);
    return volumeInfos(parseJsonArray<VolumeJson>(r.stdout, "volume ls"), filter.labels);
  }

  /** a forced remove kills at once (podman would otherwise wait the stop timeout first) */
  override async remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.run_(["rm", ...(opts.force ? ["-f", "-t", "0"] : []), name]);
  }

  /** `volume export` reopens /dev/stdout by path, which needs a pipe (see readFromFifo) */
  override exportVolume(name: string): Readable {
    const { bin } = this;
    const hint = this.hint();
    return readFromFifo(this.cmd, {
      dir: this.tmpDir,
      argv: [bin, "volume", "export", name],
      fail: (code, stderr) => new ProviderError(`\`${bin} volume export ${name}\` failed (exit ${code}): ${stderr.trim().split("\n").pop() ?? ""}`, hint),
    });
  }

  override async importVolume(name: string, tar: Readable, opts: { emptyWith?: string; isEmpty?: boolean } = {}): Promise<void> {
    // `volume import` merges into what is there: start from an empty volume
    if (!opts.isEmpty) await this.emptyVolume(name, opts.emptyWith);
    await writeToProcess(this.cmd, [this.bin, "volume", "import", name, "-"], tar, this.hint());
  }
}

/** podman's `ps --format json` rows, the fields devx reads */
interface PsJson {
  Id: string;
  Names?: string[] | null;
  Image?: string;
  State?: string;
  Labels?: Record<string, string> | null;
  Mounts?: string[] | null;
  Ports?: Array<{ host_ip?: string; container_port: number; host_port: number; range?: number; protocol?: string }> | null;
  /** Unix seconds */
  Created?: number;
}

/** A ps row as the ContainerInfo an inspect would give (the row mounts nothing). */
export function fromPs(j: PsJson): ContainerInfo {
  const ports: ContainerInfo["ports"] = [];
  for (const p of j.Ports ?? []) {
    // a range "-p 7000-7001:7000-7001" is one row; inspect lists each port
    for (let i = 0; i < Math.max(1, p.range ?? 1); i++) {
      ports.push({ hostIp: p.host_ip || "0.0.0.0", hostPort: p.host_port + i, containerPort: p.container_port + i, protocol: p.protocol || "tcp" });
    }
  }
  return {
    id: j.Id,
    name: j.Names?.[0] ?? j.Id.slice(0, 12),
    image: j.Image ?? "",
    state: j.State ?? "unknown",
    labels: j.Labels ?? {},
    ports: sortPorts(ports),
    volumes: [],
    createdAt: j.Created !== undefined ? new Date(j.Created * 1000).toISOString() : undefined,
  };
}

const CRIU_CHECK = "criu-check";

class PodmanCheckpointer implements Checkpointer {
  private probe?: Promise<{ ok: boolean; reason?: string }>;

  constructor(
    private readonly exec: Exec,
    private readonly bin: string,
    private readonly tmpDir: string,
    private readonly facts: HostFacts,
  ) {}

  supportsCheckpoint(): Promise<{ ok: boolean; reason?: string }> {
    // cheap probes only (`podman info` costs ~0.7 s): CRIU needs root, and `criu check` must pass.
    // A pass is kept per boot, user and criu binary (see HostFacts); a failure is probed again.
    return (this.probe ??= (async () => {
      if (typeof process.geteuid === "function" && process.geteuid() !== 0) return { ok: false, reason: "rootless podman cannot checkpoint containers (CRIU needs root)" };
      if (!this.exec.which("criu")) return { ok: false, reason: "CRIU is not installed" };
      return this.facts.get(
        CRIU_CHECK,
        { bins: ["criu"], boot: true },
        async () => {
          const c = await this.exec.run(["criu", "check"], { timeoutMs: 30_000 });
          if (c.code !== 0) return { ok: false, reason: `\`criu check\` failed: ${(c.stderr || c.stdout).trim().split("\n").pop() ?? ""}` };
          return { ok: true };
        },
        (v) => v.ok,
      );
    })());
  }

  toolVersion(): Promise<string | undefined> {
    return this.facts.get("criu-version", { bins: ["criu"] }, async () => {
      const r = await this.exec.run(["criu", "--version"], { timeoutMs: 10_000 }).catch(() => undefined);
      return r?.stdout.match(/Version: (\S+)/)?.[1];
    }, (v) => v !== undefined);
  }

  async withImageRoot<T>(image: string, fn: (root: string) => Promise<T>): Promise<T> {
    const r = await execCheck(this.exec, [this.bin, "image", "mount", image], { timeoutMs: 60_000 }, "checking a checkpoint needs root podman (`podman image mount`)");
    const root = r.stdout.trim().split("\n").pop() ?? "";
    try {
      if (!root.startsWith("/")) throw new ProviderError(`\`${this.bin} image mount ${image}\` printed no path`, "check podman (`devx doctor`)");
      return await fn(root);
    } finally {
      await this.exec.run([this.bin, "image", "unmount", image], { timeoutMs: 60_000 });
    }
  }

  async imageId(image: string): Promise<string | undefined> {
    const r = await this.exec.run([this.bin, "image", "inspect", "--format", "{{.Id}}", image], { timeoutMs: 30_000 });
    return r.code === 0 ? r.stdout.trim() || undefined : undefined;
  }

  /** a checkpoint or restore failed: the kept `criu check` pass may no longer hold */
  private async distrust(): Promise<void> {
    this.probe = undefined;
    await this.facts.forget(CRIU_CHECK);
  }

  private tmpFile(tag: string): string {
    return join(this.tmpDir, `${tag}-${process.pid}-${randomBytes(6).toString("hex")}.tar.zst`);
  }

  /**
   * Straight into `file`: podman writing into a FIFO we read (as volume exports do) was throttled
   * by the pipe's 64 KiB, 0.2-0.4 s slower for a 33 MB redis archive than writing the file and
   * hashing it after (~25 ms).
   */
  async checkpointToFile(name: string, file: string, opts: { leaveRunning?: boolean; tcpEstablished?: boolean } = {}): Promise<void> {
    // volumes travel separately (plain tars with their own hashes): keep them out of the archive
    const argv = [this.bin, "container", "checkpoint", `--export=${file}`, "--compress=zstd", "--ignore-volumes"];
    if (opts.leaveRunning) argv.push("--leave-running");
    if (opts.tcpEstablished) argv.push("--tcp-established");
    const r = await this.exec.run([...argv, name], { timeoutMs: 30 * 60_000 });
    if (r.code !== 0) {
      await this.distrust();
      throw new ProviderError(`checkpoint of ${name} failed: ${(r.stderr || r.stdout).trim().split("\n").slice(-2).join(" | ")}`, "run `criu check`; `devx state share --db-only` works without checkpoints");
    }
  }

  checkpoint(name: string, opts: { leaveRunning?: boolean; tcpEstablished?: boolean } = {}): Readable {
    const file = this.tmpFile("ckpt");
    const self = this;
    async function* gen(): AsyncGenerator<Uint8Array> {
      try {
        await mkdir(self.tmpDir, { recursive: true });
        await self.checkpointToFile(name, file, opts);
        for await (const c of createReadStream(file, { highWaterMark: 1 << 16 })) yield c as Uint8Array;
      } finally {
        await rm(file, { force: true });
      }
    }
    return Readable.from(gen(), { objectMode: false });
  }

  async resume(name: string, opts: { tcpEstablished?: boolean } = {}): Promise<void> {
    const argv = [this.bin, "container", "restore", ...(opts.tcpEstablished ? ["--tcp-established"] : []), name];
    await execCheck(this.exec, argv, { timeoutMs: 30 * 60_000 }, "run `criu check`, or start the container fresh").catch(async (e: unknown) => {
      await this.distrust();
      throw e;
    });
  }

  async restoreFromFile(file: string, opts: { name?: string; tcpEstablished?: boolean } = {}): Promise<string> {
    const argv = [this.bin, "container", "restore", `--import=${file}`, "--ignore-volumes"];
    if (opts.name) argv.push("--name", opts.name);
    if (opts.tcpEstablished) argv.push("--tcp-established");
    const r = await this.exec.run(argv, { timeoutMs: 30 * 60_000 });
    if (r.code !== 0) {
      await this.distrust();
      throw new ProviderError(`restore${opts.name ? ` of ${opts.name}` : ""} failed: ${(r.stderr || r.stdout).trim().split("\n").slice(-2).join(" | ")}`, "check that the image exists here and that the names and ports are free; run `criu check`");
    }
    return r.stdout.trim().split("\n").pop() ?? "";
  }

  async restore(archive: Readable, opts: { name?: string; tcpEstablished?: boolean } = {}): Promise<string> {
    const file = this.tmpFile("restore");
    await mkdir(this.tmpDir, { recursive: true });
    try {
      await pipeline(archive, createWriteStream(file, { mode: 0o600 }));
      return await this.restoreFromFile(file, opts);
    } finally {
      await rm(file, { force: true });
    }
  }
}
