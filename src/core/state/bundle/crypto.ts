import type { Transform } from "node:stream";

export interface EncryptOptions {
  /** plaintext bytes per chunk (default 1 MiB) */
  chunkSize?: number;
  /** PBKDF2 iterations (default 600,000); recorded in the header */
  iterations?: number;
}

export interface DecryptOptions {
  /** test-only: accept iteration counts below the 100,000 floor */
  allowWeakIterations?: boolean;
}

export async function createEncryptStream(passphrase: string, opts: EncryptOptions = {}): Promise<Transform> {
  void passphrase;
  void opts;
  throw new Error("not implemented");
}

export function createDecryptStream(passphrase: string, opts: DecryptOptions = {}): Transform {
  void passphrase;
  void opts;
  throw new Error("not implemented");
}
