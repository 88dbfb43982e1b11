import { IntegrityError } from "../../../errors.ts";
import type { Elevation } from "./allow.ts";

/**
 * Reading and rewriting the two JSON documents of a podman checkpoint archive that decide how the
 * container runs: config.dump (podman's container config) and spec.dump (the OCI runtime spec).
 * podman's `restore --import` trusts both verbatim, including host paths (a conmon PID file, a
 * volume's bind source, the shm directory) and settings (privileged, capabilities, binds, host
 * namespaces, devices, published ports). So: what is dangerous is either refused outright or listed
 * as an Elevation that needs the user's allowance, and the rewrite keeps only what devx decides:
 * host paths are dropped (podman derives them again for this machine), labels and the name are
 * devx's, volume binds point at this machine's volumes.
 */

type Json = Record<string, unknown>;

/** The runtime defaults (podman's, plus docker's extras): anything else is an added capability. */
export const DEFAULT_CAPS = new Set(["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT", "CAP_AUDIT_WRITE", "CAP_MKNOD", "CAP_NET_RAW"]);

/** bind mounts podman generates for every container: dropped, and made again by podman here */
const GENERATED_BINDS = new Set(["/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/run/.containerenv", "/dev/shm", "/run/secrets", "/etc/passwd", "/etc/group"]);
const KERNEL_FS = new Set(["proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2"]);
const OWN_NAMESPACES = ["pid", "network", "ipc", "uts", "mount"];
const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/**
 * config.dump keys that hold paths or commands of the host the checkpoint was taken on: podman
 * derives each again when it is absent. Left in, they would make podman write (conmon's PID file),
 * mount (the shm directory) or run (an exit command) wherever the bundle says.
 */
const HOST_KEYS = ["id", "lockID", "staticDir", "ShmDir", "mounts", "secretsPath", "logPath", "conmonPidFile", "pid_file", "pidFile", "cgroupParent", "exitCommand", "sdnotifySocket", "baseHostsFile"];

export interface CheckpointSettings {
  name: string;
  image: string;
  imageId?: string;
  namedVolumes: Array<{ name: string; dest: string }>;
  ports: Array<{ hostIp: string; hostPort: number; containerPort: number; protocol: string }>;
  elevations: Elevation[];
}

const TAMPERED = "the bundle asks for more than a container of its own: do not use it, and tell whoever shared it";

function refuse(subject: string, what: string): never {
  throw new IntegrityError(`checkpoint of ${subject}: ${what}`, TAMPERED);
}

const isObj = (x: unknown): x is Json => typeof x === "object" && x !== null && !Array.isArray(x);
const arr = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);
const str = (x: unknown): string => (typeof x === "string" ? x : "");

/** Check config.dump and spec.dump of the container the manifest calls `subject`. */
export function readCheckpointSettings(subject: string, config: unknown, spec: unknown): CheckpointSettings {
  if (!isObj(config) || !isObj(spec)) refuse(subject, "config.dump or spec.dump is not a JSON object");
  const el: Elevation[] = [];
  const add = (allow: Elevation["allow"], detail: string) => el.push({ allow, subject, detail });

  if (str(config.rootfs)) refuse(subject, `its root filesystem is a directory of the host (${str(config.rootfs)})`);
  if (str(config.pod)) refuse(subject, "it belongs to a pod");
  if (arr(config.Dependencies).length + arr(config.dependencies).length > 0) refuse(subject, "it depends on other containers");
  if (arr(config.secrets).length > 0) refuse(subject, "it asks for secrets of this machine");
  for (const k of ["ipcNsCtr", "mountNsCtr", "netNsCtr", "pidNsCtr", "userNsCtr", "utsNsCtr", "cgroupNsCtr"]) if (str(config[k])) refuse(subject, `it joins the namespaces of another container (${k})`);
  if (arr(config.imageVolumes).length > 0) refuse(subject, "it mounts image volumes");
  if (arr(config.overlayVolumes).length > 0) add("bind-mounts", `overlay volumes over host directories: ${arr(config.overlayVolumes).map((o) => str((o as Json)?.source)).join(", ")}`);

  if (config.privileged === true) add("privileged", "privileged mode");
  if (config.mountAllDevices === true) add("devices", "every device of this machine");
  const mode = str(config.networkMode);
  if (mode === "host" || mode.startsWith("ns:") || mode.startsWith("container:")) add("host-namespaces", `network mode ${mode}`);
  const networks = Object.keys(isObj(config.newNetworks) ? config.newNetworks : isObj(config.networks) ? config.networks : {});
  for (const n of networks) if (n !== "podman") add("networks", `network ${n}`);

  const ports: CheckpointSettings["ports"] = [];
  for (const p of [...arr(config.newPortMappings), ...arr(config.portMappings)]) {
    if (!isObj(p)) continue;
    const hostIp = str(p.host_ip) || "0.0.0.0";
    const range = Math.max(1, Number(p.range ?? 1));
    for (let i = 0; i < range; i++) ports.push({ hostIp, hostPort: Number(p.host_port) + i, containerPort: Number(p.container_port) + i, protocol: str(p.protocol) || "tcp" });
    if (!LOOPBACK.has(hostIp)) add("public-ports", hostIp === "0.0.0.0" ? `port ${p.host_port}->${p.container_port} on every interface of this machine` : `port ${hostIp}:${p.host_port}->${p.container_port}`);
  }

  const namedVolumes = arr(config.namedVolumes).map((v) => ({ name: str((v as Json)?.volumeName), dest: str((v as Json)?.dest) }));
  for (const s of [spec, isObj(config.spec) ? config.spec : {}]) checkSpec(subject, s, namedVolumes, add);

  return { name: str(config.name), image: str(config.rootfsImageName), imageId: str(config.rootfsImageID) || undefined, namedVolumes, ports, elevations: dedupe(el) };
}

function checkSpec(subject: string, spec: Json, named: Array<{ dest: string }>, add: (a: Elevation["allow"], d: string) => void): void {
  if (isObj(spec.hooks) && Object.values(spec.hooks).some((h) => arr(h).length > 0)) refuse(subject, "it carries OCI hooks, which run on this machine as root");
  for (const k of Object.keys(isObj(spec.annotations) ? spec.annotations : {})) {
    if (k.startsWith("run.oci.") || k.startsWith("org.criu.")) refuse(subject, `annotation ${k} would change how the runtime runs it`);
  }
  const annotations = (isObj(spec.annotations) ? spec.annotations : {}) as Record<string, unknown>;
  if (str(annotations["io.podman.annotations.privileged"]).toUpperCase() === "TRUE") add("privileged", "privileged mode");
  if (str(annotations["io.podman.annotations.publish-all"]).toUpperCase() === "TRUE") add("public-ports", "every exposed port published on every interface");

  const proc = isObj(spec.process) ? spec.process : {};
  const caps = isObj(proc.capabilities) ? proc.capabilities : {};
  const extra = new Set<string>();
  for (const set of Object.values(caps)) for (const c of arr(set)) if (!DEFAULT_CAPS.has(str(c))) extra.add(str(c));
  if (extra.size > 0) add("capabilities", `added capabilities ${[...extra].sort().join(", ")}`);
  if (str(proc.apparmorProfile) === "unconfined") add("privileged", "no AppArmor profile");

  const linux = isObj(spec.linux) ? spec.linux : {};
  if (isObj(spec.linux) && !isObj(linux.seccomp)) add("privileged", "no seccomp filter");
  const nsTypes = new Map(arr(linux.namespaces).map((n) => [str((n as Json)?.type), str((n as Json)?.path)]));
  for (const t of OWN_NAMESPACES) {
    if (!nsTypes.has(t)) add("host-namespaces", `the ${t} namespace of this machine`);
    const path = nsTypes.get(t);
    // podman makes a fresh network namespace on restore and replaces this path; any other path joins an existing namespace
    if (path && !(t === "network" && /^\/run\/netns\/[A-Za-z0-9-]+$/.test(path))) refuse(subject, `it joins the existing ${t} namespace ${path}`);
  }
  const devices = arr(linux.devices).map((d) => str((d as Json)?.path));
  if (devices.length > 0) add("devices", `devices ${devices.slice(0, 5).join(", ")}${devices.length > 5 ? ` and ${devices.length - 5} more` : ""}`);
  const res = isObj(linux.resources) ? linux.resources : {};
  if (arr(res.devices).some((d) => (d as Json)?.allow === true) && devices.length === 0) add("devices", "access to devices of this machine");
  for (const k of Object.keys(isObj(linux.sysctl) ? linux.sysctl : {})) {
    if (!/^(net\.|kernel\.(shm|msg|sem)|fs\.mqueue\.)/.test(k)) refuse(subject, `it sets the host-wide sysctl ${k}`);
  }

  const volumeDests = new Set(named.map((v) => v.dest));
  for (const m of arr(spec.mounts)) {
    if (!isObj(m)) continue;
    const type = str(m.type);
    const dest = str(m.destination);
    if (KERNEL_FS.has(type)) continue;
    if (type === "bind" && (GENERATED_BINDS.has(dest) || volumeDests.has(dest))) continue;
    add("bind-mounts", `${str(m.source) || type} at ${dest}`);
  }
}

function dedupe(el: Elevation[]): Elevation[] {
  const seen = new Set<string>();
  return el.filter((e) => {
    const k = `${e.allow}\0${e.detail}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export interface Rewrite {
  name: string;
  labels: Record<string, string>;
  /** named volume → its data directory on this machine */
  volumeSources: Map<string, string>;
  keepBinds: boolean;
}

/** config.dump as devx restores it: no host paths, devx's name and labels. */
export function rewriteConfig(config: Json, w: Rewrite): Json {
  const out: Json = { ...config };
  for (const k of HOST_KEYS) delete out[k];
  out.name = w.name;
  out.labels = { ...w.labels };
  if (isObj(out.spec)) out.spec = rewriteSpec(out.spec, config, w);
  return out;
}

/** spec.dump as devx restores it: generated binds dropped (podman makes them again), volume binds on this machine's volumes. */
export function rewriteSpec(spec: Json, config: Json, w: Rewrite): Json {
  const out: Json = { ...spec };
  delete out.hooks;
  if (isObj(out.linux)) {
    const linux = { ...out.linux };
    delete linux.cgroupsPath;
    out.linux = linux;
  }
  const byDest = new Map(arr(config.namedVolumes).map((v) => [str((v as Json)?.dest), str((v as Json)?.volumeName)]));
  const mounts: Json[] = [];
  for (const m of arr(spec.mounts)) {
    if (!isObj(m)) continue;
    const dest = str(m.destination);
    if (str(m.type) !== "bind") {
      mounts.push(m);
      continue;
    }
    const volume = byDest.get(dest);
    if (volume !== undefined) {
      const source = w.volumeSources.get(volume);
      if (!source) throw new IntegrityError(`checkpoint of ${w.name}: volume ${volume} has no place on this machine`, TAMPERED);
      mounts.push({ ...m, source });
    } else if (!GENERATED_BINDS.has(dest) && w.keepBinds) {
      mounts.push(m);
    }
  }
  out.mounts = mounts;
  return out;
}
