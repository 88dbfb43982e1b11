import { chmod, chown, lchown, lstat, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { NotFoundError, ProviderError } from "../../src/errors.ts";
import { execCheck, type Exec } from "../../src/platform/exec.ts";
import type { SandboxInfo, SandboxSpec, SessionBackend } from "./types.ts";

/**
 * Sessions on this machine's podman: per session a volume `devx-session-<id>` (the workspace, at
 * /workspace) and a container `devx-session-<id>` running `devx runner` as its main process under
 * podman's init (so orphaned children are reaped), with CPU, memory and PID limits, its port
 * published on 127.0.0.1 only, and — without egress — an internal network. The session secret
 * reaches the runner as a 0600 file in a directory bind-mounted for it; the runner deletes it once
 * read, which deletes it here too.
 */
const PORT = 7070;
const NO_EGRESS = "devx-sessions-internal";
const LABEL = { managed: "devx.managed", kind: "devx.kind", session: "devx.session", plane: "devx.plane" };

export interface PodmanBackendOptions {
  exec: Exec;
  /** a directory of this machine for the secret hand-over files (0700) */
  secretsDir: string;
  /** user the runner runs as inside the image (its workspace and secret are made theirs) */
  runnerUid?: number;
  /**
   * Which control plane's sandboxes these are (a label on each): list() sees only those, so two
   * control planes with different stores on one machine never adopt each other's sessions.
   */
  plane?: string;
}

export class PodmanSessionBackend implements SessionBackend {
  readonly name = "local (podman)";
  private readonly uid: number;

  constructor(private readonly o: PodmanBackendOptions) {
    this.uid = o.runnerUid ?? 1000;
  }

  private podman(args: string[], timeoutMs = 120_000) {
    return execCheck(this.o.exec, ["podman", ...args], { timeoutMs }, "check podman (`devx doctor`)");
  }

  private names(session: string) {
    return { container: `devx-session-${session}`, volume: `devx-session-${session}`, secrets: join(this.o.secretsDir, session) };
  }

  async create(spec: SandboxSpec): Promise<void> {
    const n = this.names(spec.session);
    const labels = Object.entries({ ...spec.labels, [LABEL.managed]: "true", [LABEL.kind]: "session", [LABEL.session]: spec.session, ...(this.o.plane ? { [LABEL.plane]: this.o.plane } : {}) }).flatMap(([k, v]) => ["--label", `${k}=${v}`]);
    if ((await this.o.exec.run(["podman", "volume", "exists", n.volume])).code !== 0) {
      await this.podman(["volume", "create", ...labels, n.volume]);
      // the runner's user owns its workspace
      await chown(await this.workspaceDir(spec.session), this.uid, this.uid);
    }
    if ((await this.o.exec.run(["podman", "container", "exists", n.container])).code === 0) return;
    await mkdir(n.secrets, { recursive: true, mode: 0o700 });
    await chown(n.secrets, this.uid, this.uid);
    const network = spec.egress ? [] : ["--network", await this.internalNetwork()];
    await this.podman([
      "create",
      "--name", n.container,
      ...labels,
      "--init",
      "--user", `${this.uid}:${this.uid}`,
      "--cpus", String(spec.limits.cpus),
      "--memory", `${spec.limits.memoryMiB}m`,
      "--pids-limit", String(spec.limits.pids),
      "--cap-drop", "ALL",
      "--security-opt", "no-new-privileges",
      ...network,
      // with egress: published on this machine's loopback only; without: an internal network has no
      // port forwarding, and the control plane reaches the runner at its address there (runnerUrl)
      ...(spec.egress ? ["-p", `127.0.0.1::${PORT}`] : []),
      "-v", `${n.volume}:/workspace`,
      "-v", `${n.secrets}:/run/devx-secret:Z`,
      "--workdir", "/workspace",
      // whatever the image's own entry point: its devx runs the runner
      "--entrypoint", "/usr/local/bin/devx",
      spec.image,
      "runner",
      "--session", spec.session,
      "--workspace", "/workspace",
      "--listen", `0.0.0.0:${PORT}`,
      "--secret-file", "/run/devx-secret/secret",
      "--idle", `${spec.idleMinutes}m`,
      "--max-lifetime", `${spec.maxHours}h`,
      ...spec.publicPorts.flatMap((p) => ["--public-port", String(p)]),
    ]);
  }

  /** an internal network: containers on it reach each other, and nothing outside */
  private async internalNetwork(): Promise<string> {
    if ((await this.o.exec.run(["podman", "network", "exists", NO_EGRESS])).code !== 0) {
      await this.podman(["network", "create", "--internal", "--label", `${LABEL.managed}=true`, NO_EGRESS]).catch(async (e) => {
        // another control plane made it at the same moment
        if ((await this.o.exec.run(["podman", "network", "exists", NO_EGRESS])).code !== 0) throw e;
      });
    }
    return NO_EGRESS;
  }

  async workspaceDir(session: string): Promise<string> {
    const r = await this.o.exec.run(["podman", "volume", "inspect", "--format", "{{.Mountpoint}}", this.names(session).volume]);
    if (r.code !== 0) throw new NotFoundError(`session ${session} has no workspace here`, "create the session first");
    return r.stdout.trim();
  }

  async start(session: string, secretHex: string): Promise<{ runnerUrl: string }> {
    const n = this.names(session);
    const file = join(n.secrets, "secret");
    await writeFile(file, secretHex, { mode: 0o600 });
    await chown(file, this.uid, this.uid);
    await chmod(file, 0o600);
    // a workspace filled from the bucket was written by the control plane: the runner's user owns it
    await ownTree(await this.workspaceDir(session), this.uid);
    try {
      await this.podman(["start", n.container]);
    } catch (e) {
      await rm(file, { force: true });
      throw e;
    }
    const url = await this.runnerUrl(session);
    if (!url) throw new ProviderError(`the sandbox of ${session} started but publishes no runner port`, `see \`podman logs ${n.container}\``);
    await this.waitHealthy(session, url);
    return { runnerUrl: url };
  }

  private async runnerUrl(session: string): Promise<string | undefined> {
    const n = this.names(session);
    const net = await this.o.exec.run(["podman", "container", "inspect", "--format", "{{json .NetworkSettings}}", n.container]);
    if (net.code !== 0) return undefined;
    const s = JSON.parse(net.stdout) as { Ports?: Record<string, Array<{ HostIp: string; HostPort: string }> | null>; Networks?: Record<string, { IPAddress?: string }> };
    const bound = s.Ports?.[`${PORT}/tcp`]?.[0];
    if (bound?.HostPort) return `http://127.0.0.1:${bound.HostPort}`;
    // an internal network publishes nothing: reach the runner at its address there (rootful podman routes it)
    const ip = Object.values(s.Networks ?? {}).find((x) => x.IPAddress)?.IPAddress;
    return ip ? `http://${ip}:${PORT}` : undefined;
  }

  private async waitHealthy(session: string, url: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const ok = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) }).then((r) => r.ok, () => false);
      if (ok) return;
      const info = await this.inspect(session);
      if (info.state !== "running") throw new ProviderError(`the runner of ${session} exited (code ${info.exitCode ?? "?"}) before it answered`, `see \`devx session logs ${session}\``);
      await Bun.sleep(50);
    }
    throw new ProviderError(`the runner of ${session} did not answer within 30 s`, `see \`devx session logs ${session}\``);
  }

  async stop(session: string): Promise<void> {
    const r = await this.o.exec.run(["podman", "stop", "-t", "10", this.names(session).container], { timeoutMs: 60_000 });
    if (r.code !== 0 && (await this.inspect(session)).state !== "missing") throw new ProviderError(`could not stop the sandbox of ${session}: ${r.stderr.trim().split("\n").pop() ?? ""}`, "check podman (`devx doctor`)");
  }

  async remove(session: string, opts: { keepWorkspace?: boolean } = {}): Promise<void> {
    const n = this.names(session);
    await this.o.exec.run(["podman", "rm", "-f", "-t", "10", n.container], { timeoutMs: 60_000 });
    if (!opts.keepWorkspace) await this.o.exec.run(["podman", "volume", "rm", "-f", n.volume], { timeoutMs: 60_000 });
    await rm(n.secrets, { recursive: true, force: true });
  }

  async inspect(session: string): Promise<SandboxInfo> {
    const n = this.names(session);
    const r = await this.o.exec.run(["podman", "container", "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", n.container]);
    if (r.code !== 0) return { session, name: n.container, state: "missing" };
    const [status, code] = r.stdout.trim().split(" ");
    const state = status === "running" ? "running" : status === "created" || status === "configured" ? "created" : "exited";
    return { session, name: n.container, state, exitCode: state === "exited" ? Number(code) : undefined, runnerUrl: state === "running" ? await this.runnerUrl(session) : undefined };
  }

  async list(): Promise<SandboxInfo[]> {
    // one label filter per call: podman 4.3 ORs several `--filter label=` of `volume ls` (and some
    // versions of `ps`), which listed every control plane's volumes as this one's; the rest is
    // checked on the labels printed
    const filter = ["--filter", this.o.plane ? `label=${LABEL.plane}=${this.o.plane}` : `label=${LABEL.kind}=session`];
    const ours = (labels: string) => labels.includes(`${LABEL.kind}:session`) && (!this.o.plane || labels.includes(`${LABEL.plane}:${this.o.plane}`));
    const r = await this.podman(["ps", "-a", ...filter, "--format", "{{.Labels}}\t{{.Names}}"]);
    const sessions = new Set<string>();
    for (const line of r.stdout.split("\n")) {
      const m = /devx\.session:([a-z0-9-]+)/.exec(line);
      if (m && ours(line)) sessions.add(m[1]!);
    }
    const vols = await this.podman(["volume", "ls", ...filter, "--format", "{{.Name}}\t{{.Labels}}"]);
    for (const line of vols.stdout.split("\n")) {
      const [name = "", labels = ""] = line.split("\t");
      if (name.startsWith("devx-session-") && ours(labels)) sessions.add(name.slice("devx-session-".length));
    }
    return Promise.all([...sessions].sort().map((s) => this.inspect(s)));
  }

  async logs(session: string, opts: { tail?: number }): Promise<string> {
    const r = await this.o.exec.run(["podman", "logs", ...(opts.tail ? ["--tail", String(opts.tail)] : []), this.names(session).container]);
    if (r.code !== 0) throw new NotFoundError(`session ${session} has no sandbox here`, "see `devx session ls`");
    return r.stdout + r.stderr;
  }
}

/** Give `dir` and everything under it to `uid` (symlinks themselves, never their targets); nothing to do when `dir` is already theirs. */
async function ownTree(dir: string, uid: number): Promise<void> {
  if ((await lstat(dir)).uid === uid) return;
  const walk = async (d: string): Promise<void> => {
    await lchown(d, uid, uid);
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else await lchown(p, uid, uid);
    }
  };
  await walk(dir);
}
