import { randomBytes } from "node:crypto";
import { chmod, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { readJson, writeFileAtomic } from "../../platform/atomic.ts";
import { ENGINE_SPECS, identifier, type Credentials, type Engine } from "./engines.ts";

/**
 * Generated database credentials, one 0600 file per database under
 * <state>/db/<project>/<name>.credentials.json (directory 0700). One file per database because
 * `devx up` spawns databases concurrently and they must not race on a shared file.
 */
export function credentialsFile(stateDir: string, project: string, name: string): string {
  return join(stateDir, "db", project, `${name}.credentials.json`);
}

/** 24 bytes from the CSPRNG, base64url: 32 characters that need no quoting in URLs or configs. */
export function generatePassword(): string {
  return randomBytes(24).toString("base64url");
}

export function generateCredentials(engine: Engine, project: string): Credentials {
  const id = identifier(project);
  const c: Credentials = { user: ENGINE_SPECS[engine].hasUser ? id : "", password: generatePassword(), database: ENGINE_SPECS[engine].hasUser ? id : "0" };
  if (engine === "mysql") c.rootPassword = generatePassword();
  return c;
}

export async function readCredentials(stateDir: string, project: string, name: string): Promise<Credentials | undefined> {
  return readJson<Credentials>(credentialsFile(stateDir, project, name));
}

/** The stored credentials, or new ones written first (so a crash cannot lose what the volume was initialised with). */
export async function loadOrCreateCredentials(stateDir: string, project: string, name: string, engine: Engine): Promise<{ credentials: Credentials; created: boolean }> {
  const existing = await readCredentials(stateDir, project, name);
  if (existing) return { credentials: existing, created: false };
  const dir = join(stateDir, "db", project);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const credentials = generateCredentials(engine, project);
  await writeFileAtomic(credentialsFile(stateDir, project, name), JSON.stringify(credentials, null, 2) + "\n", 0o600);
  return { credentials, created: true };
}

export async function removeCredentials(stateDir: string, project: string, name: string): Promise<void> {
  await rm(credentialsFile(stateDir, project, name), { force: true });
}
