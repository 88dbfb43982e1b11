import type { MachineSpec } from "./machine-config.ts";

/**
 * Compile the rendered machine to an Ignition config, spec 3.3.0 (the newest Fedora CoreOS and
 * `ignition-validate` 2.14 both accept). Files travel as base64 data URLs; every file and
 * directory is root-owned with the declared mode; units are enabled by Ignition at first boot.
 */
export const IGNITION_VERSION = "3.3.0";

export interface IgnitionConfig {
  ignition: { version: string };
  passwd: { users: Array<{ name: string; sshAuthorizedKeys?: string[] }> };
  storage: {
    directories: Array<{ path: string; mode: number; overwrite?: boolean }>;
    files: Array<{ path: string; mode: number; overwrite: boolean; contents: { source: string } }>;
  };
  systemd: { units: Array<{ name: string; enabled: boolean; contents: string }> };
}

export function dataUrl(contents: string): string {
  return `data:;base64,${Buffer.from(contents, "utf8").toString("base64")}`;
}

/** The bytes of a data URL (base64 or percent-encoded). */
export function decodeDataUrl(url: string): string {
  const m = /^data:([^,]*),(.*)$/s.exec(url);
  if (!m) throw new Error(`not a data URL: ${url.slice(0, 40)}`);
  return m[1]!.endsWith(";base64") ? Buffer.from(m[2]!, "base64").toString("utf8") : decodeURIComponent(m[2]!);
}

export function toIgnition(spec: MachineSpec): IgnitionConfig {
  return {
    ignition: { version: IGNITION_VERSION },
    passwd: { users: spec.users.map((u) => (u.sshAuthorizedKeys.length ? { name: u.name, sshAuthorizedKeys: u.sshAuthorizedKeys } : { name: u.name })) },
    storage: {
      directories: spec.directories.map((d) => ({ path: d.path, mode: d.mode })),
      files: spec.files.map((f) => ({ path: f.path, mode: f.mode, overwrite: true, contents: { source: dataUrl(f.contents) } })),
    },
    systemd: { units: spec.units.map((u) => ({ name: u.name, enabled: u.enabled, contents: u.contents })) },
  };
}
