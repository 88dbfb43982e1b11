import { parse } from "yaml";
import template from "./templates/machine.yaml" with { type: "text" };
import { ConfigError } from "../../src/errors.ts";

/**
 * The one machine declaration (templates/machine.yaml), rendered for one VM. The rendered spec is
 * then compiled to Ignition (ignition.ts) or a provisioning script (native.ts).
 */
export type MachineFeature = "cloudflared" | "tailscale" | "podman_ready";

export interface MachineInputs {
  user: string;
  sshKeys: string[];
  inotify: { maxUserWatches: number; maxUserInstances: number };
  features: Partial<Record<MachineFeature, boolean>>;
  containerCli: "podman" | "docker";
  tunnelToken?: string;
  tailscaleAuthkey?: string;
  tailscaleHostname?: string;
  cloudflaredImage?: string;
  tailscaleImage?: string;
}

export interface MachineFile {
  path: string;
  mode: number;
  contents: string;
  secret: boolean;
}

export interface MachineSpec {
  users: Array<{ name: string; sshAuthorizedKeys: string[] }>;
  directories: Array<{ path: string; mode: number }>;
  files: MachineFile[];
  units: Array<{ name: string; enabled: boolean; contents: string }>;
}

/** What masked secrets read as in plans and printed configs. */
export const MASK = "********";

export const DEFAULT_IMAGES = {
  cloudflared: "docker.io/cloudflare/cloudflared:2024.11.1",
  tailscale: "docker.io/tailscale/tailscale:v1.76.6",
} as const;

const HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** The raw embedded template text (for `devx vm ignition --template`). */
export const machineTemplate: string = template as unknown as string;

type Raw = Record<string, unknown>;

export function renderMachine(inputs: MachineInputs, opts: { maskSecrets?: boolean } = {}): MachineSpec {
  if (inputs.features.tailscale && !HOSTNAME.test(inputs.tailscaleHostname ?? "")) {
    throw new ConfigError(`vm.tailscale.hostname "${inputs.tailscaleHostname}" is not a valid host name`, "use lowercase letters, digits and dashes (at most 63)");
  }
  const secret = (v: string | undefined) => (opts.maskSecrets ? MASK : (v ?? ""));
  const vars: Record<string, string | string[]> = {
    user: inputs.user,
    ssh_keys: inputs.sshKeys,
    inotify_max_user_watches: String(inputs.inotify.maxUserWatches),
    inotify_max_user_instances: String(inputs.inotify.maxUserInstances),
    container_cli: inputs.containerCli,
    tunnel_token: secret(inputs.tunnelToken),
    tailscale_authkey: secret(inputs.tailscaleAuthkey),
    tailscale_hostname: inputs.tailscaleHostname ?? "",
    cloudflared_image: inputs.cloudflaredImage ?? DEFAULT_IMAGES.cloudflared,
    tailscale_image: inputs.tailscaleImage ?? DEFAULT_IMAGES.tailscale,
  };
  const doc = substitute(parse(machineTemplate), vars) as Raw;
  const on = (x: Raw) => x.if === undefined || !!inputs.features[x.if as MachineFeature];
  const list = (x: unknown) => ((x as Raw[] | undefined) ?? []).filter(on);
  const passwd = (doc.passwd as Raw | undefined) ?? {};
  const storage = (doc.storage as Raw | undefined) ?? {};
  const systemd = (doc.systemd as Raw | undefined) ?? {};
  return {
    users: list(passwd.users).map((u) => ({ name: String(u.name), sshAuthorizedKeys: ((u.ssh_authorized_keys as string[]) ?? []).filter(Boolean) })),
    directories: list(storage.directories).map((d) => ({ path: String(d.path), mode: octal(d.mode) })),
    files: list(storage.files).map((f) => ({ path: String(f.path), mode: octal(f.mode), contents: fileContents(f.contents as Raw, on), secret: f.secret === true })),
    units: list(systemd.units).map((u) => ({ name: String(u.name), enabled: u.enabled !== false, contents: String(u.contents) })),
  };
}

function fileContents(c: Raw, on: (x: Raw) => boolean): string {
  if (typeof c.inline === "string") return c.inline;
  if (Array.isArray(c.env)) return (c.env as Raw[]).filter(on).map((e) => `${e.name}=${e.value}\n`).join("");
  throw new Error("machine template: a file needs contents.inline or contents.env");
}

function octal(mode: unknown): number {
  const n = Number.parseInt(String(mode), 8);
  if (!Number.isInteger(n)) throw new Error(`machine template: mode ${String(mode)} is not an octal string`);
  return n;
}

function substitute(node: unknown, vars: Record<string, string | string[]>): unknown {
  if (typeof node === "string") {
    return node.replace(/\{\{(\w+)\}\}/g, (_, k: string) => {
      const v = vars[k];
      if (typeof v !== "string") throw new Error(`machine template: unknown placeholder {{${k}}}`);
      return v;
    });
  }
  if (Array.isArray(node)) {
    return node.flatMap((item) => {
      const spread = typeof item === "string" ? /^\{\{\.\.\.(\w+)\}\}$/.exec(item) : null;
      if (spread) {
        const v = vars[spread[1]!];
        if (!Array.isArray(v)) throw new Error(`machine template: {{...${spread[1]}}} is not a list`);
        return v;
      }
      return [substitute(item, vars)];
    });
  }
  if (node && typeof node === "object") return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, substitute(v, vars)]));
  return node;
}
