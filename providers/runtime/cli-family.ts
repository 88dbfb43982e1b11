import type { Readable } from "node:stream";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ProviderError } from "../../src/errors.ts";
import { execCheck, type Exec } from "../../src/platform/exec.ts";
import type { Checkpointer, ContainerInfo, ContainerRuntime, ContainerUsage, RunSpec, VolumeInfo } from "./types.ts";
import { readFromProcess, writeToProcess } from "./streams.ts";
import { HostFacts } from "./host-facts.ts";

/**
 * The docker-compatible CLI family (podman, docker, nerdctl). They share `ps -q`, `inspect` JSON,
 * `run`/`stop`/`rm`, `volume create/rm/inspect`; subclasses override what differs (podman's native
 * volume export/import and its CRIU checkpointer).
 */
export interface CliRuntimeOptions {
  exec: Exec;
  /** the executable (argv[0]) */
  bin: string;
  /** an image with `tar`, used to move volume content where the CLI has no `volume export` */
  helperImage?: string;
  /** where facts about the host's tools are kept between runs (unset: probed every time) */
  factsFile?: string;
  /** see ContainerRuntime.localVolumes */
  localVolumes?: boolean;
}

/** docker-compatible `inspect` output, the fields devx reads (podman, docker and nerdctl agree on these) */
export interface InspectJson {
  Id: string;
  Name: string;
  ImageName?: string;
  Image?: string;
  Created?: string;
  State?: { Status?: string; Running?: boolean };
  Config?: { Image?: string; Labels?: Record<string, string> | null };
  HostConfig?: { PortBindings?: Record<string, Array<{ HostIp?: string; HostPort?: string }> | null> | null };
  Mounts?: Array<{ Type?: string; Name?: string; Destination?: string }> | null;
}

export interface VolumeJson {
  Name: string;
  Labels?: Record<string, string> | null;
  Mountpoint?: string;
}

export function labelFilters(labels?: Record<string, string>): string[] {
  return Object.entries(labels ?? {}).flatMap(([k, v]) => ["--filter", `label=${k}=${v}`]);
}

/** Label filters must all hold: runtimes disagree (podman ORs repeated `volume ls` label filters). */
export function matches(labels: Record<string, string>, want?: Record<string, string>): boolean {
  return Object.entries(want ?? {}).every(([k, v]) => labels[k] === v);
}

export function parseJsonArray<T>(text: string, what: string): T[] {
  const t = text.trim();
  if (!t) return [];
  try {
    const parsed = JSON.parse(t) as T[] | T;
    return Array.isArray(parsed) ? parsed : [parsed];
  } catch {
    // docker prints one JSON document per line for some commands
    try {
      return t.split("\n").filter(Boolean).map((l) => JSON.parse(l) as T);
    } catch {
      throw new ProviderError(`cannot parse the ${what} output of the container runtime`, "check the runtime version with `devx doctor`");
    }
  }
}

/** "725kB", "1.2MiB", "3.5 GB" (decimal and binary units, as runtimes print them) → bytes */
export function parseSize(text: string): number | undefined {
  const m = /^\s*([\d.]+)\s*([kKMGT]?i?)B?\s*$/.exec(text);
  if (!m) return undefined;
  const unit = m[2]!.toUpperCase();
  const pow = { "": 0, K: 1, M: 2, G: 3, T: 4 }[unit.replace("I", "")] ?? 0;
  return Math.round(Number(m[1]) * (unit.endsWith("I") ? 1024 : 1000) ** pow);
}

/** podman's `stats --format json` (name, cpu_percent, mem_usage) or docker's template (Name, CPUPerc, MemUsage) */
export function parseUsage(j: Record<string, unknown>): ContainerUsage {
  const str = (...keys: string[]) => keys.map((k) => j[k]).find((v): v is string => typeof v === "string");
  const cpu = str("cpu_percent", "CPUPerc");
  const mem = str("mem_usage", "MemUsage")?.split("/")[0];
  const pct = cpu === undefined ? undefined : Number.parseFloat(cpu);
  return { name: str("name", "Name") ?? "", cpuPercent: pct !== undefined && Number.isFinite(pct) ? pct : undefined, memBytes: mem === undefined ? undefined : parseSize(mem) };
}

/** one order for ports whichever listing they came from */
export function sortPorts(ports: ContainerInfo["ports"]): ContainerInfo["ports"] {
  return ports.sort((a, b) => a.containerPort - b.containerPort || a.protocol.localeCompare(b.protocol) || a.hostIp.localeCompare(b.hostIp) || a.hostPort - b.hostPort);
}

export function toContainerInfo(j: InspectJson): ContainerInfo {
  const ports: ContainerInfo["ports"] = [];
  for (const [key, binds] of Object.entries(j.HostConfig?.PortBindings ?? {})) {
    const [cport, proto = "tcp"] = key.split("/");
    for (const b of binds ?? []) {
      if (!b.HostPort) continue;
      ports.push({ hostIp: b.HostIp || "0.0.0.0", hostPort: Number(b.HostPort), containerPort: Number(cport), protocol: proto });
    }
  }
  return {
    id: j.Id,
    name: j.Name.replace(/^\//, ""),
    image: j.ImageName ?? j.Config?.Image ?? j.Image ?? "",
    state: j.State?.Status ?? (j.State?.Running ? "running" : "unknown"),
    labels: j.Config?.Labels ?? {},
    ports: sortPorts(ports),
    volumes: (j.Mounts ?? []).filter((m) => m.Type === "volume" && m.Name).map((m) => ({ name: m.Name!, destination: m.Destination ?? "" })),
    createdAt: j.Created,
  };
}

/** `volume inspect` (or podman's `volume ls` JSON) rows as VolumeInfo, filtered and sorted */
export function volumeInfos(rows: VolumeJson[], labels?: Record<string, string>): VolumeInfo[] {
  return rows
    .map((j) => ({ name: j.Name, labels: j.Labels ?? {}, mountpoint: j.Mountpoint }))
    .filter((v) => matches(v.labels, labels))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** A listing's last steps, whichever runtime: every label filter holds (see matches), sorted by name. */
export function finishListing(cs: ContainerInfo[], labels?: Record<string, string>): ContainerInfo[] {
  return cs.filter((c) => matches(c.labels, labels)).sort((a, b) => a.name.localeCompare(b.name));
}

export class CliRuntime implements ContainerRuntime {
  readonly displayName: string;
  readonly checkpointer?: Checkpointer;
  readonly localVolumes: boolean;
  protected readonly cmd: Exec;
  protected readonly bin: string;
  protected readonly helperImage: string;
  protected readonly facts: HostFacts;

  constructor(opts: CliRuntimeOptions) {
    this.cmd = opts.exec;
    this.bin = opts.bin;
    this.facts = new HostFacts(opts.factsFile, opts.exec);
    this.displayName = opts.bin;
    this.localVolumes = opts.localVolumes ?? false;
    this.helperImage = opts.helperImage ?? "docker.io/library/busybox:latest";
  }

  protected hint(): string {
    return `check that ${this.bin} works (\`${this.bin} info\`), or run \`devx doctor\``;
  }

  protected run_(args: string[], opts: { input?: string; env?: Record<string, string>; timeoutMs?: number } = {}) {
    return execCheck(this.cmd, [this.bin, ...args], opts, this.hint());
  }

  /** the CLI's version (recorded in snapshot manifests), probed once per installed binary */
  version(): Promise<string> {
    return this.facts.get(`${this.bin}-version`, { bins: [this.bin] }, async () => {
      const r = await this.run_(["--version"], { timeoutMs: 15_000 });
      return r.stdout.match(/\d+\.\d+(\.\d+)?[\w.-]*/)?.[0] ?? r.stdout.trim();
    });
  }

  async listContainers(filter: { labels?: Record<string, string>; all?: boolean } = {}): Promise<ContainerInfo[]> {
    const r = await this.run_(["ps", "-q", "--no-trunc", ...(filter.all ? ["-a"] : []), ...labelFilters(filter.labels)]);
    const ids = r.stdout.split("\n").map((s) => s.trim()).filter(Boolean);
    return finishListing(await this.inspectMany(ids), filter.labels);
  }

  /** `container inspect` of several IDs; one that vanished since the listing is left out */
  protected async inspectMany(ids: string[]): Promise<ContainerInfo[]> {
    if (ids.length === 0) return [];
    // inspect then prints the others and exits 125
    const out = await this.cmd.run([this.bin, "container", "inspect", ...ids]);
    return parseJsonArray<InspectJson>(out.stdout, "inspect").map(toContainerInfo);
  }

  async inspectContainer(nameOrId: string): Promise<ContainerInfo | undefined> {
    const r = await this.cmd.run([this.bin, "container", "inspect", nameOrId]);
    if (r.code !== 0) return undefined;
    return parseJsonArray<InspectJson>(r.stdout, "inspect").map(toContainerInfo)[0];
  }

  async listVolumes(filter: { labels?: Record<string, string> } = {}): Promise<VolumeInfo[]> {
    const r = await this.run_(["volume", "ls", "-q", ...labelFilters(filter.labels)]);
    const names = r.stdout.split("\n").map((s) => s.trim()).filter(Boolean);
    if (names.length === 0) return [];
    const out = await this.run_(["volume", "inspect", ...names]);
    return volumeInfos(parseJsonArray<VolumeJson>(out.stdout, "volume inspect"), filter.labels);
  }

  /**
   * Secrets reach the container through an env file (0600, in a fresh 0700 directory) that is
   * removed as soon as `run` returns: never argv, and not the CLI's own environment, which its
   * children (conmon, network helpers) would inherit. A value with a line break cannot be written
   * to an env file; it alone goes through the CLI's environment (`-e NAME`).
   */
  async run(spec: RunSpec): Promise<string> {
    const args = ["run", "-d", "--name", spec.name];
    const secrets = Object.entries(spec.secretEnv ?? {});
    const multiline = Object.fromEntries(secrets.filter(([, v]) => /[\r\n]/.test(v)));
    const single = secrets.filter(([k]) => !(k in multiline));
    const dir = single.length ? await mkdtemp(join(tmpdir(), "devx-env-")) : undefined;
    try {
      if (dir) {
        const file = join(dir, "env");
        await writeFile(file, single.map(([k, v]) => `${k}=${v}\n`).join(""), { mode: 0o600, flag: "wx" });
        args.push("--env-file", file);
      }
      for (const [k, v] of Object.entries(spec.labels ?? {})) args.push("--label", `${k}=${v}`);
      for (const [k, v] of Object.entries(spec.env ?? {})) args.push("-e", `${k}=${v}`);
      for (const k of Object.keys(multiline)) args.push("-e", k);
      for (const p of spec.ports ?? []) args.push("-p", `${p.hostIp ?? "127.0.0.1"}:${p.hostPort}:${p.containerPort}`);
      for (const v of spec.volumes ?? []) args.push("-v", `${v.name}:${v.destination}`);
      if (spec.network) args.push("--network", spec.network);
      if (spec.workdir) args.push("--workdir", spec.workdir);
      if (spec.user) args.push("--user", spec.user);
      args.push(spec.image, ...(spec.command ?? []));
      const r = await this.run_(args, { env: multiline });
      return r.stdout.trim().split("\n").pop() ?? "";
    } finally {
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  }

  async start(name: string): Promise<void> {
    await this.run_(["start", name]);
  }

  async stop(name: string, graceSeconds = 10): Promise<void> {
    await this.run_(["stop", "-t", String(graceSeconds), name]);
  }

  async remove(name: string, opts: { force?: boolean } = {}): Promise<void> {
    await this.run_(["rm", ...(opts.force ? ["-f"] : []), name]);
  }

  async exec(name: string, command: string[], opts: { input?: string; timeoutMs?: number } = {}) {
    const r = await this.cmd.run([this.bin, "exec", ...(opts.input !== undefined ? ["-i"] : []), name, ...command], { input: opts.input, timeoutMs: opts.timeoutMs });
    return { code: r.code, stdout: r.stdout, stderr: r.stderr };
  }

  async *logs(name: string, opts: { follow?: boolean; tail?: number; since?: string; stderr?: boolean } = {}): AsyncIterable<string> {
    const argv = [this.bin, "logs", ...(opts.follow ? ["-f"] : []), ...(opts.tail !== undefined ? ["--tail", String(opts.tail)] : []), ...(opts.since ? ["--since", opts.since] : []), name];
    if (opts.stderr) return yield* this.bothStreams(argv);
    let rest = "";
    const dec = new TextDecoder();
    for await (const chunk of readFromProcess(this.cmd, argv, this.hint()) as AsyncIterable<Uint8Array>) {
      rest += dec.decode(chunk, { stream: true });
      const lines = rest.split("\n");
      rest = lines.pop() ?? "";
      yield* lines;
    }
    if (rest) yield rest;
  }

  /** `stats --format` that prints JSON: docker and nerdctl take a Go template per line */
  protected statsFormat(): string[] {
    return ["--format", "{{json .}}"];
  }

  async usage(names: string[]): Promise<ContainerUsage[]> {
    if (names.length === 0) return [];
    const r = await this.cmd.run([this.bin, "stats", "--no-stream", ...this.statsFormat(), ...names]);
    if (r.code !== 0) throw new ProviderError(`\`${this.bin} stats\` failed: ${r.stderr.trim().split("\n").at(-1) ?? ""}`, this.hint());
    return parseJsonArray<Record<string, unknown>>(r.stdout, "stats").map(parseUsage);
  }

  /**
   * The runtime replays a container's stdout on its stdout and its stderr on its stderr: both, as
   * lines, in the order they arrive. A failure of the runtime itself shows as its exit code.
   */
  private async *bothStreams(argv: string[]): AsyncIterable<string> {
    const child = this.cmd.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    const queue: string[] = [];
    let wake: (() => void) | undefined;
    let open = 2;
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      const dec = new TextDecoder();
      let rest = "";
      for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
        const lines = (rest + dec.decode(chunk, { stream: true })).split("\n");
        rest = lines.pop() ?? "";
        queue.push(...lines);
        wake?.();
      }
      if (rest) queue.push(rest);
      open--;
      wake?.();
    };
    void pump(child.stdout);
    void pump(child.stderr);
    try {
      for (;;) {
        while (queue.length) yield queue.shift()!;
        if (open === 0) break;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
      const code = await child.exited;
      if (code !== 0) throw new ProviderError(`\`${argv.slice(0, 2).join(" ")}\` failed (exit ${code})`, this.hint());
    } finally {
      child.kill("SIGKILL");
    }
  }

  async imageExists(image: string): Promise<boolean> {
    const r = await this.cmd.run([this.bin, "image", "inspect", image]);
    return r.code === 0;
  }

  async createVolume(name: string, labels: Record<string, string> = {}): Promise<void> {
    const args = ["volume", "create"];
    for (const [k, v] of Object.entries(labels)) args.push("--label", `${k}=${v}`);
    await this.run_([...args, name]);
  }

  /** never `-f`: forcing would also delete the containers that use the volume */
  async removeVolume(name: string): Promise<void> {
    await this.run_(["volume", "rm", name]);
  }

  /** Without a native `volume export`: tar the volume from a throwaway helper container. */
  exportVolume(name: string): Readable {
    return readFromProcess(this.cmd, [this.bin, "run", "--rm", "-v", `${name}:/v:ro`, this.helperImage, "tar", "-C", "/v", "-cf", "-", "."], this.hint());
  }

  async importVolume(name: string, tar: Readable, opts: { emptyWith?: string; isEmpty?: boolean } = {}): Promise<void> {
    if (!opts.isEmpty) await this.emptyVolume(name, opts.emptyWith);
    await writeToProcess(this.cmd, [this.bin, "run", "--rm", "-i", "-v", `${name}:/v`, this.helperImage, "tar", "-C", "/v", "-xf", "-"], tar, this.hint());
  }

  /**
   * Import merges into existing content, so start from an empty volume: recreate it with the same
   * labels, or, while a stopped container still references it, empty it in place.
   */
  protected async emptyVolume(name: string, emptyWith?: string): Promise<void> {
    const existing = await this.cmd.run([this.bin, "volume", "inspect", name]);
    if (existing.code !== 0) return this.createVolume(name);
    const labels = parseJsonArray<VolumeJson>(existing.stdout, "volume inspect")[0]?.Labels ?? {};
    const rm = await this.cmd.run([this.bin, "volume", "rm", name]);
    if (rm.code === 0) return this.createVolume(name, labels);
    if (!emptyWith) throw new ProviderError(`volume ${name} cannot be replaced: ${rm.stderr.trim().split("\n").pop() ?? "it is in use"}`, "stop and remove the containers that use it, then try again");
    // the glob set matches every entry but . and ..; unmatched patterns are harmless with rm -f
    await this.run_(["run", "--rm", "--network", "none", "--user", "0:0", "--entrypoint", "sh", "-v", `${name}:/v`, emptyWith, "-c", "rm -rf /v/..?* /v/.[!.]* /v/*"]);
  }
}
