import { ProviderError } from "../../../src/errors.ts";
import type { ContainerInfo, ContainerRuntime, RunSpec, VolumeInfo } from "../../../providers/runtime/types.ts";

/**
 * An in-memory ContainerRuntime for the database use-cases. Strict: methods the use-cases have no
 * business calling (checkpoint, export, import) throw; `execAnswers` scripts probe results in order
 * and running out of answers fails the test instead of looping forever.
 */
export class FakeRuntime implements ContainerRuntime {
  readonly displayName = "fake";
  readonly containers = new Map<string, ContainerInfo & { spec?: RunSpec; logs: string[] }>();
  readonly volumes = new Map<string, VolumeInfo>();
  readonly calls: string[] = [];
  readonly runs: RunSpec[] = [];
  /** per call to exec: what the probe returns */
  execAnswers: Array<{ code: number; stdout?: string; stderr?: string } | ((name: string, cmd: string[]) => { code: number; stdout?: string; stderr?: string })> = [];
  /** state a container takes right after run() */
  stateAfterRun = "running";
  private seq = 0;

  async version() {
    return "0";
  }
  async listContainers(filter: { labels?: Record<string, string>; all?: boolean } = {}) {
    this.calls.push("listContainers");
    return [...this.containers.values()].filter((c) => (filter.all || c.state === "running") && matchLabels(c.labels, filter.labels));
  }
  async listVolumes(filter: { labels?: Record<string, string> } = {}) {
    this.calls.push("listVolumes");
    return [...this.volumes.values()].filter((v) => matchLabels(v.labels, filter.labels));
  }
  async inspectContainer(name: string) {
    this.calls.push(`inspect ${name}`);
    const c = this.containers.get(name);
    return c ? { ...c } : undefined;
  }
  async run(spec: RunSpec) {
    this.calls.push(`run ${spec.name}`);
    if (this.containers.has(spec.name)) throw new Error(`fake: name ${spec.name} in use`);
    if (this.missingImages.has(spec.image)) throw new ProviderError("`podman run -d` failed (exit 125): Error: initializing source docker://x: pinging container registry: dial tcp: lookup registry-1.docker.io: no such host", "");
    for (const v of spec.volumes ?? []) if (!this.volumes.has(v.name)) this.volumes.set(v.name, { name: v.name, labels: {} });
    this.runs.push(spec);
    const id = `id${++this.seq}`;
    this.containers.set(spec.name, {
      id,
      name: spec.name,
      image: spec.image,
      state: this.stateAfterRun,
      labels: spec.labels ?? {},
      ports: (spec.ports ?? []).map((p) => ({ hostIp: p.hostIp ?? "0.0.0.0", hostPort: p.hostPort, containerPort: p.containerPort, protocol: "tcp" })),
      volumes: spec.volumes ?? [],
      createdAt: new Date(Date.now() + this.seq).toISOString(),
      spec,
      logs: ["line one", "FATAL: fake failure"],
    });
    return id;
  }
  async start(name: string) {
    this.calls.push(`start ${name}`);
    this.must(name).state = "running";
  }
  async stop(name: string) {
    this.calls.push(`stop ${name}`);
    this.must(name).state = "exited";
  }
  async remove(name: string) {
    this.calls.push(`remove ${name}`);
    this.must(name);
    this.containers.delete(name);
  }
  async exec(name: string, command: string[]) {
    this.calls.push(`exec ${name} ${command[0]}`);
    const a = this.execAnswers.shift();
    if (!a) throw new Error(`fake: unexpected exec in ${name}: ${command.join(" ")}`);
    const r = typeof a === "function" ? a(name, command) : a;
    return { code: r.code, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  }
  async *logs(name: string, opts: { follow?: boolean; tail?: number } = {}) {
    this.calls.push(`logs ${name}${opts.follow ? " -f" : ""}`);
    const c = this.must(name);
    if (!opts.follow) return yield* c.logs;
    // like `logs -f --tail 0`: new lines until the container stops
    let seen = c.logs.length;
    while (c.state === "running") {
      while (seen < c.logs.length) yield c.logs[seen++]!;
      await Bun.sleep(1);
    }
    while (seen < c.logs.length) yield c.logs[seen++]!;
  }
  /** images that are not here and cannot be pulled */
  readonly missingImages = new Set<string>();
  async imageExists(image: string) {
    return !this.missingImages.has(image);
  }
  async createVolume(name: string, labels: Record<string, string> = {}) {
    this.calls.push(`createVolume ${name}`);
    if (this.volumes.has(name)) throw new Error(`fake: volume ${name} exists`);
    this.volumes.set(name, { name, labels });
  }
  async removeVolume(name: string) {
    this.calls.push(`removeVolume ${name}`);
    if (!this.volumes.delete(name)) throw new Error(`fake: no volume ${name}`);
  }
  exportVolume(): never {
    throw new Error("fake: exportVolume is not for databases");
  }
  async importVolume(): Promise<never> {
    throw new Error("fake: importVolume is not for databases");
  }
  private must(name: string) {
    const c = this.containers.get(name);
    if (!c) throw new Error(`fake: no container ${name}`);
    return c;
  }
}

function matchLabels(have: Record<string, string>, want?: Record<string, string>): boolean {
  return Object.entries(want ?? {}).every(([k, v]) => have[k] === v);
}
