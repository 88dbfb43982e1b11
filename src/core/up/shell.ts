import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { CoreDeps } from "../deps.ts";
import { ConfigError } from "../../errors.ts";

/**
 * `devx shell`: the user's $SHELL on the host, or — when the project has
 * .devcontainer/devcontainer.json with an `image` — that image through the container runtime, the
 * project mounted at /workspaces/<name> and host networking so the injected 127.0.0.1 URLs work.
 */
export interface ShellPlan {
  kind: "host" | "devcontainer";
  argv: string[];
  /** names of the injected variables (values go through env, never argv) */
  injected: string[];
  env: Record<string, string>;
  cwd: string;
}

/** devcontainer.json is JSONC: comments and trailing commas are allowed. */
function parseJsonc(text: string): Record<string, unknown> {
  const noComments = text.replace(/"(?:\\.|[^"\\])*"|\/\/[^\n]*|\/\*[\s\S]*?\*\//g, (m) => (m.startsWith('"') ? m : ""));
  return JSON.parse(noComments.replace(/,(\s*[}\]])/g, "$1")) as Record<string, unknown>;
}

export async function planShell(deps: CoreDeps, env: Record<string, string>): Promise<ShellPlan> {
  const loaded = await deps.findConfig();
  const root = loaded?.dir ?? deps.cwd;
  const dc = join(root, ".devcontainer", "devcontainer.json");
  const shellEnv = { ...env, DEVX_SHELL: "1" };
  if (!existsSync(dc)) {
    return { kind: "host", argv: [deps.env.SHELL || "/bin/sh"], injected: Object.keys(env), env: shellEnv, cwd: deps.cwd };
  }
  let spec: Record<string, unknown>;
  try {
    spec = parseJsonc(readFileSync(dc, "utf8"));
  } catch (e) {
    throw new ConfigError(`${dc} is not valid JSON: ${(e as Error).message}`, "fix the file, or remove it to get a host shell");
  }
  const image = typeof spec.image === "string" ? spec.image : undefined;
  if (!image) throw new ConfigError(`${dc} has no "image" (devcontainers built from a Dockerfile are not supported by devx shell)`, 'build the image yourself and set "image", or remove the file to get a host shell');
  const { detectRuntime } = await import("../../../providers/runtime/index.ts");
  const rt = detectRuntime({ exec: deps.exec, env: deps.env, paths: deps.paths }, loaded?.config.provider);
  const ws = `/workspaces/${basename(root)}`;
  const user = typeof spec.remoteUser === "string" ? ["--user", spec.remoteUser] : [];
  const argv = [
    // the runtimes share the docker CLI shape for an interactive run; displayName is its binary
    rt.displayName,
    "run",
    "--rm",
    "-i",
    ...(deps.interactive ? ["-t"] : []),
    "--network",
    "host",
    "-v",
    `${root}:${ws}`,
    "-w",
    ws,
    ...user,
    ...Object.keys(shellEnv).flatMap((k) => ["-e", k]),
    image,
    "/bin/sh",
  ];
  return { kind: "devcontainer", argv, injected: Object.keys(env), env: shellEnv, cwd: root };
}
