import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { ConfigError } from "../../errors.ts";

/**
 * Resolve a secret reference from devx.yaml: "env:NAME", "file:/path" (~ expanded), or a literal.
 * The value only ever travels into files (0600) or request headers, never argv or logs.
 */
export async function resolveSecret(ref: string | undefined, env: Record<string, string | undefined>, what: string): Promise<string | undefined> {
  if (!ref) return undefined;
  if (ref.startsWith("env:")) {
    const name = ref.slice(4);
    const v = env[name];
    if (!v) throw new ConfigError(`${what} refers to $${name}, which is not set`, `export ${name}=… or change the reference in devx.yaml`);
    return v;
  }
  if (ref.startsWith("file:")) {
    const path = ref.slice(5).replace(/^~(?=\/)/, env.HOME || homedir());
    try {
      return (await readFile(path, "utf8")).trim();
    } catch (e) {
      throw new ConfigError(`${what} refers to ${path}, which cannot be read: ${(e as Error).message}`, "check the path in devx.yaml");
    }
  }
  return ref;
}
