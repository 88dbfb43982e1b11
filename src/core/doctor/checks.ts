import { connect } from "node:net";
import { access, constants, readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import type { Exec } from "../../platform/exec.ts";
import { listSessions } from "../../platform/sessions.ts";
import { messageOf } from "../../errors.ts";

export type CheckStatus = "ok" | "warn" | "fail" | "missing";

export interface CheckResult {
  id: string;
  title: string;
  status: CheckStatus;
  /** version or what was found */
  detail?: string;
  /** a concrete fix when status is not ok */
  fix?: string;
}

export interface DoctorDeps {
  exec: Exec;
  env: Record<string, string | undefined>;
  stateDir: string;
  /** loads devx.yaml; throws its ConfigError; undefined when there is none */
  loadConfig(): Promise<{ path: string; config: { state?: { relay?: string } } } | undefined>;
  /** checks a relay URI is reachable and writable; undefined when no relay checker is built in */
  checkRelay?(uri: string): Promise<string>;
  /** what a stale session's dead owner left running (processes, containers), for `devx up` records */
  leftoversOf?(session: { kind: string; id: string; data: unknown }): Promise<string[]>;
}

const firstLine = (s: string) => s.trim().split("\n")[0] ?? "";

async function version(exec: Exec, id: string, title: string, argv: string[], fix: string, parse: (out: string) => string = firstLine): Promise<CheckResult> {
  if (!exec.which(argv[0]!)) return { id, title, status: "missing", fix };
  const r = await exec.run(argv, { timeoutMs: 10_000 }).catch((e) => ({ code: -1, stdout: "", stderr: messageOf(e), timedOut: false }));
  if (r.code !== 0) return { id, title, status: "fail", detail: firstLine(r.stderr || r.stdout), fix };
  return { id, title, status: "ok", detail: parse(r.stdout || r.stderr) };
}

function tcpReachable(host: string, port: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once("connect", () => done(true));
    s.once("error", () => done(false));
  });
}

async function kubeCheck(env: Record<string, string | undefined>): Promise<CheckResult> {
  const id = "kube";
  const title = "Kubernetes context";
  const file = (env.KUBECONFIG ?? join(env.HOME ?? "", ".kube", "config")).split(":")[0]!;
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return { id, title, status: "missing", detail: `no kubeconfig at ${file}`, fix: "set KUBECONFIG or create ~/.kube/config to use `devx bridge`" };
  }
  try {
    const kc = parseYaml(text) as { "current-context"?: string; contexts?: { name: string; context: { cluster: string } }[]; clusters?: { name: string; cluster: { server: string } }[] };
    const ctx = kc.contexts?.find((c) => c.name === kc["current-context"]);
    const cluster = kc.clusters?.find((c) => c.name === ctx?.context.cluster);
    if (!ctx || !cluster) return { id, title, status: "fail", detail: `current-context "${kc["current-context"] ?? ""}" not found in ${file}`, fix: "pick a context: `kubectl config use-context <name>`" };
    const url = new URL(cluster.cluster.server);
    const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
    const ok = await tcpReachable(url.hostname, port);
    return ok
      ? { id, title, status: "ok", detail: `${ctx.name} → ${url.host}` }
      : { id, title, status: "fail", detail: `${ctx.name}: ${url.host} is not reachable`, fix: "check the VPN/network, or switch context" };
  } catch (e) {
    return { id, title, status: "fail", detail: `cannot read ${file}: ${messageOf(e)}`, fix: "fix the kubeconfig YAML" };
  }
}

async function fileRelayCheck(uri: string): Promise<string> {
  const dir = decodeURIComponent(new URL(uri).pathname);
  await access(dir, constants.W_OK);
  return `${dir} is writable`;
}

/** Work a killed devx left half done (state journals) and the space its leftovers take. */
async function stateCheck(stateDir: string): Promise<CheckResult> {
  const { interruptedWork } = await import("../state/recover.ts");
  const w = await interruptedWork(stateDir);
  const id = "state";
  const title = "state operations";
  if (w.interrupted.length > 0) return { id, title, status: "fail", detail: w.interrupted.join("; "), fix: "`devx state recover` (or `devx doctor --fix`) finishes it; any state command does too" };
  if (w.leftovers.length > 0) return { id, title, status: "warn", detail: `${(w.leftoverBytes / 2 ** 20).toFixed(1)} MiB left by interrupted runs`, fix: "`devx state recover` reclaims it" };
  return { id, title, status: "ok", detail: "nothing interrupted" };
}

export async function runChecks(d: DoctorDeps): Promise<CheckResult[]> {
  const e = d.exec;
  const checks: Array<Promise<CheckResult>> = [
    version(e, "podman", "podman", ["podman", "--version"], "install podman (https://podman.io/docs/installation)"),
    version(e, "docker", "docker", ["docker", "version", "--format", "{{.Client.Version}} (server {{.Server.Version}})"], "install Docker, or start its daemon"),
    version(e, "nerdctl", "nerdctl", ["nerdctl", "--version"], "install nerdctl (bundled with Lima/Colima)"),
    version(e, "limactl", "Lima", ["limactl", "--version"], "install Lima: https://lima-vm.io"),
    version(e, "colima", "Colima", ["colima", "version"], "install Colima: https://github.com/abiosoft/colima"),
    version(e, "orb", "OrbStack", ["orb", "version"], "install OrbStack (macOS): https://orbstack.dev"),
    (async () => {
      const v = await version(e, "criu", "CRIU", ["criu", "--version"], "install CRIU ≥ 4.2 for container checkpoints (`devx state` falls back to db-only without it)", (o) => o.match(/Version: (\S+)/)?.[1] ?? firstLine(o));
      if (v.status !== "ok") return v;
      const c = await e.run(["criu", "check"], { timeoutMs: 20_000 });
      return c.code === 0
        ? { ...v, detail: `${v.detail}, criu check passed` }
        : { ...v, status: "fail", detail: `${v.detail}, criu check failed: ${firstLine(c.stderr || c.stdout)}`, fix: "run `criu check` as root; a kernel or CRIU mismatch limits `devx state` to db-only" };
    })(),
    version(e, "cloudflared", "cloudflared", ["cloudflared", "--version"], "install cloudflared to run tunnels on the host (the VM runs its own)"),
    version(e, "tailscale", "Tailscale", ["tailscale", "version"], "install Tailscale for private access: https://tailscale.com/download"),
    kubeCheck(d.env),
    stateCheck(d.stateDir),
  ];
  const configCheck = (async (): Promise<CheckResult[]> => {
    try {
      const c = await d.loadConfig();
      if (!c) return [{ id: "config", title: "devx.yaml", status: "missing", detail: "none found here or in a parent directory", fix: "create a devx.yaml in the project root (see README), or pass -f path/to/devx.yaml" }];
      const out: CheckResult[] = [{ id: "config", title: "devx.yaml", status: "ok", detail: c.path }];
      const relay = c.config.state?.relay;
      if (relay) {
        try {
          const detail = relay.startsWith("file://") ? await fileRelayCheck(relay) : d.checkRelay ? await d.checkRelay(relay) : undefined;
          out.push(detail === undefined ? { id: "relay", title: "state relay", status: "warn", detail: `${relay}: not checked` } : { id: "relay", title: "state relay", status: "ok", detail });
        } catch (err) {
          out.push({ id: "relay", title: "state relay", status: "fail", detail: `${relay}: ${messageOf(err)}`, fix: "check the bucket name, credentials and network" });
        }
      }
      return out;
    } catch (err) {
      const hint = (err as { hint?: string }).hint;
      return [{ id: "config", title: "devx.yaml", status: "fail", detail: messageOf(err), fix: hint || "run `devx config validate`" }];
    }
  })();
  const sessions = (async (): Promise<CheckResult> => {
    const stale = (await listSessions(d.stateDir)).filter((s) => s.stale);
    if (stale.length === 0) return { id: "sessions", title: "session files", status: "ok", detail: "no stale session files" };
    const left = (await Promise.all(stale.map((s) => (d.leftoversOf ? d.leftoversOf(s).catch(() => []) : Promise.resolve([]))))).flat();
    return {
      id: "sessions",
      title: "session files",
      status: "warn",
      detail: `${stale.length} stale: ${stale.map((s) => `${s.kind}/${s.id}`).join(", ")}${left.length ? `; a crashed run left running: ${left.join(", ")}` : ""}`,
      fix: left.length ? "run `devx doctor --fix` to stop what they left running and remove them" : "run `devx doctor --fix` to remove them",
    };
  })();
  const results = await Promise.all(checks);
  return [...results, ...(await configCheck), await sessions];
}
