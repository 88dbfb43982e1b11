import { UsageError } from "../../../errors.ts";

/**
 * What a shared bundle may only do on this machine when its user says so, by name
 * (`devx state attach --allow privileged,bind-mounts`). Everything else a bundle could ask for
 * that reaches past its own containers and volumes is refused outright (see docs/security.md).
 */
export const ALLOW = {
  privileged: "run a container privileged or without its seccomp/AppArmor confinement",
  capabilities: "give a container capabilities beyond the runtime's defaults",
  "bind-mounts": "mount directories of this machine into a container",
  "host-namespaces": "share this machine's network, PID, IPC or UTS namespace",
  devices: "give a container devices of this machine",
  "public-ports": "publish a port on an address other than 127.0.0.1",
  networks: "attach a container to a network of this machine other than the default",
  setuid: "write setuid/setgid files into volumes or container filesystems",
} as const;

export type Allowance = keyof typeof ALLOW;

export function parseAllow(values: string[] | undefined): Set<Allowance> {
  const out = new Set<Allowance>();
  for (const raw of (values ?? []).flatMap((v) => v.split(","))) {
    const name = raw.trim();
    if (name === "") continue;
    if (!(name in ALLOW)) throw new UsageError(`unknown --allow value "${name}"`, `one of: ${Object.keys(ALLOW).join(", ")}`);
    out.add(name as Allowance);
  }
  return out;
}

/** One thing a bundle asks for that needs an allowance: shown in the plan, refused without it. */
export interface Elevation {
  allow: Allowance;
  /** which container or volume asks */
  subject: string;
  detail: string;
}
