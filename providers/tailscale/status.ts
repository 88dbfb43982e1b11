/**
 * `tailscale status --json` (tailscale 1.7x), as printed inside the VM by the devx-tailscale
 * container. Only the fields devx shows are read.
 */
interface TailscaleStatusJson {
  Version?: string;
  BackendState?: string;
  TailscaleIPs?: string[] | null;
  Self?: { HostName?: string; DNSName?: string; Online?: boolean; TailscaleIPs?: string[] | null };
  CurrentTailnet?: { Name?: string; MagicDNSSuffix?: string } | null;
  Health?: string[] | null;
}

export interface TailnetStatus {
  /** Tailscale's BackendState (Running, NeedsLogin, Stopped, Starting…) or why it is unknown */
  state: string;
  ipv4?: string;
  ipv6?: string;
  dnsName?: string;
  tailnet?: string;
  online?: boolean;
  version?: string;
  health?: string[];
  reason?: string;
}

export function parseTailscaleStatus(stdout: string): TailnetStatus {
  let s: TailscaleStatusJson;
  try {
    s = JSON.parse(stdout) as TailscaleStatusJson;
  } catch {
    return { state: "unavailable", reason: "tailscale printed no JSON" };
  }
  const ips = s.TailscaleIPs ?? s.Self?.TailscaleIPs ?? [];
  return {
    state: s.BackendState ?? "unknown",
    ipv4: ips.find((ip) => !ip.includes(":")),
    ipv6: ips.find((ip) => ip.includes(":")),
    dnsName: s.Self?.DNSName?.replace(/\.$/, ""),
    tailnet: s.CurrentTailnet?.Name,
    online: s.Self?.Online,
    version: s.Version,
    health: s.Health?.length ? s.Health : undefined,
  };
}
