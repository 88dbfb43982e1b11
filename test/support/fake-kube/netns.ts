import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/**
 * "localhost inside the pod" for pods that are local processes. On a real node, port-forward is
 * done by the container runtime (containerd, CRI-O), which dials localhost:<port> inside the pod's
 * network namespace: a process listening only on the pod IP is unreachable, one on 127.0.0.1 or on
 * every address is reached. The fake's pods share the host's loopback, so it asks the kernel who
 * owns the listening socket: only a listener on a loopback or wildcard address that belongs to one
 * of the pod's processes counts as listening on the pod's localhost (another pod's listener on
 * 127.0.0.1:<port> is in another namespace, so it does not).
 */

/** Local addresses in /proc/net/tcp{,6} a connection to localhost reaches. */
const LOCALHOST_V4 = new Set(["0100007F", "00000000"]);
const LOCALHOST_V6 = new Set(["00000000000000000000000001000000", "00000000000000000000000000000000", "0000000000000000FFFF00000100007F", "0000000000000000FFFF000000000000"]);
const LISTEN = "0A";

function listeningInodes(port: number): Set<string> {
  const out = new Set<string>();
  for (const [file, addrs] of [["/proc/net/tcp", LOCALHOST_V4], ["/proc/net/tcp6", LOCALHOST_V6]] as const) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== LISTEN) continue;
      const [addr, hexPort] = f[1]!.split(":");
      if (parseInt(hexPort!, 16) === port && addrs.has(addr!)) out.add(f[9]!);
    }
  }
  return out;
}

/** Pids whose process group is `pgid` (the pod's processes: the fake starts each pod in its own group). */
function processesOf(pgid: number): number[] {
  const pids: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      // fields after the command name, which may itself hold spaces and parentheses
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(rest[2]) === pgid) pids.push(Number(d));
    } catch {
      /* exited meanwhile */
    }
  }
  return pids;
}

/** Whether a process of the pod (process group `pgid`) listens where localhost:<port> in its namespace would reach. */
export function listensOnPodLocalhost(pgid: number, port: number): boolean {
  const inodes = listeningInodes(port);
  if (inodes.size === 0) return false;
  for (const pid of processesOf(pgid)) {
    let fds: string[] = [];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) return true;
      } catch {
        /* closed meanwhile */
      }
    }
  }
  return false;
}
