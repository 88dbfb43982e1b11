/**
 * Typed errors. Every error a user can meet is a DevxError with a kind (mapped to an exit code by
 * src/cli/exit-codes.ts) and a hint saying what to do next. SDK and subprocess errors are wrapped
 * once, at the provider boundary; nothing matches on message text.
 */
export type ErrorKind =
  | "internal"
  | "usage"
  | "config"
  | "not-found"
  | "conflict"
  | "permission"
  | "provider"
  | "network"
  | "integrity"
  | "passphrase"
  | "truncated"
  | "unhealthy"
  | "cancelled";

export class DevxError extends Error {
  readonly kind: ErrorKind = "internal";
  readonly hint: string;
  constructor(message: string, hint = "", options?: { cause?: unknown }) {
    super(message, options);
    this.hint = hint;
    this.name = new.target.name;
  }
}

/** Bad command line: unknown command or flag, missing argument, a prompt that cannot be answered. */
export class UsageError extends DevxError {
  override readonly kind = "usage";
}
/** devx.yaml or user config is invalid. */
export class ConfigError extends DevxError {
  override readonly kind = "config";
}
export class NotFoundError extends DevxError {
  override readonly kind = "not-found";
}
/** The operation would clash with something that exists (port busy, already intercepted, name taken). */
export class ConflictError extends DevxError {
  override readonly kind = "conflict";
}
/** Credentials missing or rejected, RBAC denies a verb, a file is not readable. */
export class PermissionError extends DevxError {
  override readonly kind = "permission";
}
/** An external tool or provider (podman, limactl, criu, Cloudflare…) failed or is missing. */
export class ProviderError extends DevxError {
  override readonly kind = "provider";
}
/** A relay, cluster or API could not be reached. */
export class NetworkError extends DevxError {
  override readonly kind = "network";
}
/** Data failed authentication: flipped, reordered or appended bytes. */
export class IntegrityError extends DevxError {
  override readonly kind = "integrity";
}
/** The passphrase does not open this bundle. */
export class PassphraseError extends DevxError {
  override readonly kind = "passphrase";
}
/** The data ends early: an interrupted upload or download. */
export class TruncatedError extends DevxError {
  override readonly kind = "truncated";
}
/** A service, database or check did not become healthy. */
export class UnhealthyError extends DevxError {
  override readonly kind = "unhealthy";
}
/** The user cancelled (Ctrl-C, declined a confirmation). */
export class CancelledError extends DevxError {
  override readonly kind = "cancelled";
}

export function isDevxError(e: unknown): e is DevxError {
  return e instanceof DevxError;
}

/** The message of anything thrown, for wrapping at a boundary. */
export function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

const BY_KIND: Record<ErrorKind, new (message: string, hint?: string) => DevxError> = {
  internal: DevxError,
  usage: UsageError,
  config: ConfigError,
  "not-found": NotFoundError,
  conflict: ConflictError,
  permission: PermissionError,
  provider: ProviderError,
  network: NetworkError,
  integrity: IntegrityError,
  passphrase: PassphraseError,
  truncated: TruncatedError,
  unhealthy: UnhealthyError,
  cancelled: CancelledError,
};

/**
 * The typed error for a kind received from another devx process (a background supervisor's
 * control channel): the same class, so the same exit code and rendering. An unknown kind from the
 * wire is `fallback`.
 */
export function errorFromKind(kind: string | undefined, message: string, hint = "", fallback: ErrorKind = "internal"): DevxError {
  const Cls = BY_KIND[(kind && Object.hasOwn(BY_KIND, kind) ? kind : fallback) as ErrorKind];
  return new Cls(message, hint);
}
