import type { ErrorKind } from "../errors.ts";

/**
 * The one table of exit codes. `devx help exit-codes` and the README print it; scripts rely on it,
 * so codes are never renumbered.
 */
export const EXIT_CODES: ReadonlyArray<{ code: number; kind: ErrorKind | "ok"; meaning: string }> = [
  { code: 0, kind: "ok", meaning: "success" },
  { code: 1, kind: "internal", meaning: "unexpected internal error (run with --debug and report it)" },
  { code: 2, kind: "usage", meaning: "bad usage: unknown command or flag, missing argument, prompt without a TTY" },
  { code: 3, kind: "config", meaning: "invalid devx.yaml or user config" },
  { code: 4, kind: "not-found", meaning: "a named thing does not exist (service, snapshot, VM, share…)" },
  { code: 5, kind: "conflict", meaning: "conflicts with existing state (port busy, already intercepted, name taken)" },
  { code: 6, kind: "permission", meaning: "permission or authentication denied (credentials, RBAC, file modes)" },
  { code: 7, kind: "provider", meaning: "an external tool or provider failed or is missing (podman, criu, limactl…)" },
  { code: 8, kind: "network", meaning: "network or relay unreachable (bucket, cluster, API)" },
  { code: 9, kind: "integrity", meaning: "integrity check failed: data was tampered with or corrupted" },
  { code: 10, kind: "passphrase", meaning: "wrong passphrase for an encrypted bundle" },
  { code: 11, kind: "truncated", meaning: "data ends early: incomplete upload or download" },
  { code: 12, kind: "unhealthy", meaning: "a service or database did not become healthy" },
  { code: 130, kind: "cancelled", meaning: "cancelled (Ctrl-C or a declined confirmation)" },
];

export function exitCodeFor(kind: ErrorKind): number {
  return EXIT_CODES.find((e) => e.kind === kind)?.code ?? 1;
}

export function exitCodesTable(): string {
  return EXIT_CODES.map((e) => `  ${String(e.code).padStart(3)}  ${e.kind.padEnd(11)} ${e.meaning}`).join("\n");
}
