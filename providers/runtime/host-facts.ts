import { readFileSync, statSync } from "node:fs";
import { uptime } from "node:os";
import { readJson, writeFileAtomic } from "../../src/platform/atomic.ts";
import type { Exec } from "../../src/platform/exec.ts";

/**
 * Facts about this host's tools that change only when a tool is replaced, the machine reboots or
 * another user asks: "`criu check` passes", "podman is 4.3.1". Probing them costs a process each
 * (`criu check` ~70 ms of CPU, `podman --version` ~40 ms) on every checkpoint and restore, where
 * devx's overhead over the raw podman commands is measured; so each is kept in a small JSON file
 * under a fingerprint of what it depends on (the binaries' path, size, mtime and inode, the boot
 * ID, the user) and probed again as soon as any of that differs.
 */
export class HostFacts {
  private entries?: Promise<Record<string, { fp: string; value: unknown }>>;

  /** `file` undefined: nothing is kept, every fact is probed (tests, one-off runtimes) */
  constructor(
    private readonly file: string | undefined,
    private readonly exec: Pick<Exec, "which">,
  ) {}

  /** What a fact about these binaries depends on; undefined when one of them is not installed. */
  fingerprint(bins: string[], opts: { boot?: boolean } = {}): string | undefined {
    const parts: string[] = [];
    for (const bin of bins) {
      const path = this.exec.which(bin);
      if (!path) return undefined;
      try {
        const st = statSync(path);
        parts.push(`${path}:${st.size}:${st.mtimeMs}:${st.ino}`);
      } catch {
        return undefined;
      }
    }
    if (opts.boot) parts.push(`boot:${bootId()}`, `uid:${process.geteuid?.() ?? "?"}`);
    return parts.join("|");
  }

  /**
   * The fact `key` as last probed while what it depends on (`on`: these binaries, and with `boot`
   * this boot and user) was the same, else `probe()` (kept only when `keep` says so: a failed probe
   * is worth repeating, its cause may be fixed by the next run).
   */
  async get<T>(key: string, on: { bins: string[]; boot?: boolean }, probe: () => Promise<T>, keep: (v: T) => boolean = () => true): Promise<T> {
    if (!this.file) return probe();
    const fp = this.fingerprint(on.bins, { boot: on.boot });
    if (fp === undefined) return probe();
    const all = await this.load();
    const hit = all[key];
    if (hit && hit.fp === fp) return hit.value as T;
    const value = await probe();
    if (keep(value)) {
      all[key] = { fp, value };
      // a cache that cannot be written costs only the next probe
      await writeFileAtomic(this.file, JSON.stringify(all, null, 2) + "\n").catch(() => {});
    }
    return value;
  }

  private load(): Promise<Record<string, { fp: string; value: unknown }>> {
    // an unreadable or corrupt file is an empty cache
    return (this.entries ??= readJson<Record<string, { fp: string; value: unknown }>>(this.file!).then((e) => (e && typeof e === "object" ? e : {}), () => ({})));
  }

  /** Forget a fact (a checkpoint failed although `criu check` passed earlier). */
  async forget(key: string): Promise<void> {
    if (!this.file) return;
    const all = await this.load();
    if (!(key in all)) return;
    delete all[key];
    await writeFileAtomic(this.file, JSON.stringify(all, null, 2) + "\n").catch(() => {});
  }
}

function bootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    // no boot ID (not Linux): the boot time to the minute
    return String(Math.round((Date.now() / 1000 - uptime()) / 60));
  }
}
