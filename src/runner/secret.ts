import { readFileSync, statSync, unlinkSync } from "node:fs";
import { parseSecret } from "../session/protocol/index.ts";

/**
 * The per-session secret, from a file or stdin: never argv (any process in the sandbox can read
 * /proc/<pid>/cmdline) and never the environment (children would inherit it). The file must be a
 * regular file owned by the runner's user and closed to group and others; it is consumed — removed
 * once read — so the sandbox's own processes cannot find it later.
 */
export class SecretError extends Error {}

export function readSecretFile(path: string, log: (line: string) => void): Uint8Array {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    throw new SecretError(`cannot read the secret file ${path}: ${(e as NodeJS.ErrnoException).code}`);
  }
  if (!st.isFile()) throw new SecretError(`the secret file ${path} is not a regular file`);
  if ((st.mode & 0o077) !== 0) throw new SecretError(`the secret file ${path} is readable or writable by others (mode ${(st.mode & 0o777).toString(8)}); it must be 0600 or stricter`);
  if (typeof process.getuid === "function" && st.uid !== process.getuid()) throw new SecretError(`the secret file ${path} belongs to uid ${st.uid}, not to the runner's user`);
  let secret: Uint8Array;
  try {
    secret = parseSecret(readFileSync(path, "utf8"));
  } catch (e) {
    throw new SecretError(`the secret file ${path}: ${(e as Error).message}`);
  }
  try {
    unlinkSync(path);
  } catch (e) {
    log(`warning: could not remove the secret file ${path} after reading it (${(e as NodeJS.ErrnoException).code}); processes in the sandbox running as this user may read it`);
  }
  return secret;
}

export function secretFromText(text: string | null): Uint8Array {
  if (text === null) throw new SecretError("--secret-stdin: stdin is a terminal or closed; pipe the secret in");
  try {
    return parseSecret(text);
  } catch (e) {
    throw new SecretError(`the secret on stdin: ${(e as Error).message}`);
  }
}
