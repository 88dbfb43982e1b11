import * as v from "valibot";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createDeps, type Deps } from "../../../src/cli/deps.ts";
import { globalOptions, type GlobalOptions } from "../../../src/cli/define.ts";
import { memoryIO } from "../../../src/cli/io.ts";
import type { DevxConfig, UserConfig } from "../../../src/config/schema.ts";
import type { DevxEvent } from "../../../src/events/types.ts";
import { resolvePaths } from "../../../src/platform/paths.ts";
import type { ExecStub } from "../../support/exec-stub.ts";

export const BINS = { podman: "/usr/bin/podman", limactl: "/opt/homebrew/bin/limactl", colima: "/opt/homebrew/bin/colima", docker: "/usr/local/bin/docker", orb: "/usr/local/bin/orb" };

/** A fresh home with an ed25519 public key, so machine configs carry a known key. */
export const PODMAN_MACHINE_PUB = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPodmanMachineKeyPodmanMachineKeyPodmanMach podman-machine";

/** `podmanKey: false` leaves out podman's machine key, as on a machine that never ran podman machine. */
export function tempHome(opts: { podmanKey?: boolean } = {}): { home: string; key: string } {
  const home = join(process.env.DEVX_TEST_ROOT!, `home-${crypto.randomUUID().slice(0, 8)}`);
  mkdirSync(join(home, ".ssh"), { recursive: true });
  if (opts.podmanKey !== false) {
    mkdirSync(join(home, ".local/share/containers/podman/machine"), { recursive: true });
    writeFileSync(join(home, ".local/share/containers/podman/machine/machine.pub"), PODMAN_MACHINE_PUB + "\n");
  }
  const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk3b7lOXh0m5Nf4y0w5Qm2xJt0pU6jC2t0e8n1Q9a2b dev@laptop";
  writeFileSync(join(home, ".ssh", "id_ed25519.pub"), key + "\n");
  return { home, key };
}

export interface TestDeps {
  deps: Deps;
  io: ReturnType<typeof memoryIO>;
  events: DevxEvent[];
}

export function testDeps(exec: ExecStub, opts: { config?: DevxConfig; user?: UserConfig; env?: Record<string, string | undefined>; global?: Partial<GlobalOptions>; tty?: boolean; answers?: string[] } = {}): TestDeps {
  const io = memoryIO({ tty: opts.tty, answers: opts.answers });
  const events: DevxEvent[] = [];
  const env: Record<string, string | undefined> = { USER: "dev", ...opts.env };
  const global = { ...(v.parse(globalOptions, {}) as GlobalOptions), ...opts.global };
  const loaded = opts.config ? { path: "/work/app/devx.yaml", dir: "/work/app", config: opts.config, files: ["/work/app/devx.yaml"] } : undefined;
  const deps = createDeps(global, {
    io,
    env,
    exec,
    paths: resolvePaths({ DEVX_HOME: join(env.HOME ?? process.env.DEVX_TEST_ROOT!, "devx") }),
    emit: (e) => events.push(e),
    findConfig: async () => loaded as never,
    userConfig: async () => opts.user ?? {},
  });
  return { deps, io, events };
}
