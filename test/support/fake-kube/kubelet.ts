import type { KubeObject } from "./store.ts";

/**
 * What the kubelet decides before a container runs, as it reports it: image pulls that fail (with
 * containerd's message shapes), container configs it refuses (CreateContainerConfigError) and the
 * identity the process runs with (securityContext). Shapes follow the kubelet's waiting reasons
 * (pkg/kubelet/images: ErrImagePull, ImagePullBackOff; kuberuntime: CreateContainerConfigError).
 */

/** The reference containerd resolves: short names live on Docker Hub, a tag defaults to latest. */
export function normalizedImage(image: string): string {
  const [first, ...rest] = image.split("/");
  const named = rest.length === 0 ? `docker.io/library/${image}` : /[.:]/.test(first!) || first === "localhost" ? image : `docker.io/${image}`;
  const last = named.slice(named.lastIndexOf("/") + 1);
  return last.includes(":") || last.includes("@") ? named : `${named}:latest`;
}

export const pullError = (image: string) => {
  const ref = normalizedImage(image);
  return `rpc error: code = NotFound desc = failed to pull and unpack image "${ref}": failed to resolve reference "${ref}": ${ref}: not found`;
};
export const backOffMessage = (image: string) => `Back-off pulling image "${image}": ErrImagePull: ${pullError(image)}`;

/** The identity and privileges the container's process gets. */
export interface ProcessIdentity {
  uid: number;
  gid: number;
  noNewPrivs: boolean;
  /** may bind ports below 1024 (capability added, or the pod's unprivileged-port sysctl) */
  bindLowPorts: boolean;
  readOnlyRoot: boolean;
}

/** Pod-level securityContext overridden by the container's, as the kubelet merges them. */
export function processIdentity(pod: KubeObject, container: any, imageUser = 0): ProcessIdentity {
  const psc = pod.spec?.securityContext ?? {};
  const csc = container.securityContext ?? {};
  const uid = csc.runAsUser ?? psc.runAsUser ?? imageUser;
  const sysctl = (psc.sysctls ?? []).find((s: any) => s.name === "net.ipv4.ip_unprivileged_port_start");
  return {
    uid,
    gid: csc.runAsGroup ?? psc.runAsGroup ?? 0,
    noNewPrivs: csc.allowPrivilegeEscalation === false,
    bindLowPorts: uid === 0 || (csc.capabilities?.add ?? []).some((c: string) => /^(CAP_)?NET_BIND_SERVICE$/.test(c)) || (sysctl !== undefined && Number(sysctl.value) < 1024),
    readOnlyRoot: csc.readOnlyRootFilesystem === true,
  };
}

/** Why the kubelet would refuse to create the container (CreateContainerConfigError), if it would. */
export function configRefusal(pod: KubeObject, container: any, id: ProcessIdentity, lookup: (kind: "Secret" | "ConfigMap", name: string) => KubeObject | undefined): string | undefined {
  const nonRoot = container.securityContext?.runAsNonRoot ?? pod.spec?.securityContext?.runAsNonRoot;
  if (nonRoot && id.uid === 0) return `container has runAsNonRoot and image will run as root (pod: "${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})", container: ${container.name})`;
  for (const e of container.env ?? []) {
    for (const [kind, ref] of [["Secret", e.valueFrom?.secretKeyRef], ["ConfigMap", e.valueFrom?.configMapKeyRef]] as const) {
      if (!ref || ref.optional) continue;
      const obj = lookup(kind, ref.name);
      if (!obj) return `${kind.toLowerCase()} "${ref.name}" not found`;
      if (obj.data?.[ref.key] === undefined) return `couldn't find key ${ref.key} in ${kind} ${pod.metadata.namespace}/${ref.name}`;
    }
  }
  return undefined;
}

/** argv running `argv` as the identity: setpriv (util-linux) when the fake runs as root, else as it is. */
export function launchArgv(argv: string[], id: ProcessIdentity): string[] {
  if (process.getuid?.() !== 0) return argv;
  if (id.uid === 0 && id.gid === 0 && !id.noNewPrivs) return argv;
  return [
    "setpriv",
    `--reuid=${id.uid}`,
    `--regid=${id.gid}`,
    "--clear-groups",
    ...(id.noNewPrivs ? ["--no-new-privs"] : []),
    ...(id.bindLowPorts && id.uid !== 0 ? ["--inh-caps=+net_bind_service", "--ambient-caps=+net_bind_service"] : []),
    "--",
    ...argv,
  ];
}
