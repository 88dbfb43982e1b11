import { join } from "node:path";
import { ProviderError, UsageError } from "../../src/errors.ts";
import type { Exec } from "../../src/platform/exec.ts";
import type { ContainerRuntime } from "./types.ts";
import { PodmanRuntime } from "./podman.ts";
import { DockerRuntime } from "./docker.ts";
import { NerdctlRuntime } from "./nerdctl.ts";

export type { ContainerRuntime, ContainerInfo, VolumeInfo, RunSpec, Checkpointer } from "./types.ts";

export const RUNTIMES = ["podman", "docker", "nerdctl"] as const;
export type RuntimeName = (typeof RUNTIMES)[number];

export interface RuntimeDeps {
  exec: Exec;
  env: Record<string, string | undefined>;
  paths: { state: string };
}

function build(name: RuntimeName, deps: RuntimeDeps): ContainerRuntime {
  const helperImage = deps.env.DEVX_HELPER_IMAGE;
  const factsFile = join(deps.paths.state, "host-facts.json");
  // a remote socket (podman machine, a docker context) means volume directories are not here
  const linux = process.platform === "linux";
  if (name === "podman") return new PodmanRuntime({ exec: deps.exec, helperImage, factsFile, tmpDir: join(deps.paths.state, "tmp"), localVolumes: linux && !deps.env.CONTAINER_HOST });
  if (name === "docker") return new DockerRuntime({ exec: deps.exec, helperImage, factsFile, localVolumes: linux && !deps.env.DOCKER_HOST });
  return new NerdctlRuntime({ exec: deps.exec, helperImage, factsFile });
}

/**
 * The container runtime to use: `preferred` (a flag or devx.yaml `provider`), else DEVX_RUNTIME,
 * else the first of podman, docker, nerdctl found on PATH. Values that name a VM provider
 * (lima, colima…) or "auto" fall through to detection.
 */
export function detectRuntime(deps: RuntimeDeps, preferred?: string): ContainerRuntime {
  const wanted = preferred && preferred !== "auto" ? preferred : deps.env.DEVX_RUNTIME;
  if (wanted && (RUNTIMES as readonly string[]).includes(wanted)) {
    if (!deps.exec.which(wanted)) throw new ProviderError(`${wanted} is not installed or not on PATH`, `install ${wanted}, or pick another runtime (DEVX_RUNTIME=podman|docker|nerdctl)`);
    return build(wanted as RuntimeName, deps);
  }
  if (wanted && wanted === deps.env.DEVX_RUNTIME) throw new UsageError(`unknown container runtime "${wanted}" in DEVX_RUNTIME`, `use one of ${RUNTIMES.join(", ")}`);
  const found = RUNTIMES.find((r) => deps.exec.which(r));
  if (!found) throw new ProviderError("no container runtime found (podman, docker or nerdctl)", "install podman (https://podman.io/docs/installation), then run `devx doctor`");
  return build(found, deps);
}
