import type { DevxConfig, UserConfig } from "./schema.ts";

/**
 * Precedence, written once: flag > environment > project (devx.yaml) > user config > default.
 * Every setting that can come from more than one place is resolved here.
 */
export interface Sources {
  flags: Record<string, unknown>;
  env: Record<string, string | undefined>;
  project?: DevxConfig;
  user: UserConfig;
}

export interface Resolved<T> {
  value: T;
  from: "flag" | "env" | "project" | "user" | "default";
}

function pick<T>(candidates: Array<[Resolved<T>["from"], T | undefined]>, dflt: T): Resolved<T> {
  for (const [from, value] of candidates) if (value !== undefined && value !== "") return { value, from };
  return { value: dflt, from: "default" };
}

export function resolveProvider(s: Sources): Resolved<string> {
  return pick<string>(
    [
      ["flag", s.flags.provider as string | undefined],
      ["env", s.env.DEVX_PROVIDER],
      ["project", s.project?.vm?.provider ?? s.project?.provider],
      ["user", s.user.provider],
    ],
    "auto",
  );
}

export function resolveRelay(s: Sources): Resolved<string | undefined> {
  return pick<string | undefined>(
    [
      ["flag", s.flags.relay as string | undefined],
      ["env", s.env.DEVX_RELAY],
      ["project", s.project?.state?.relay],
      ["user", s.user.relay],
    ],
    undefined,
  );
}

export function resolveProfile(s: Omit<Sources, "project">): Resolved<string | undefined> {
  return pick<string | undefined>(
    [
      ["flag", s.flags.profile as string | undefined],
      ["env", s.env.DEVX_PROFILE],
      ["user", s.user.profile],
    ],
    undefined,
  );
}

export function resolveVmName(s: Sources): Resolved<string> {
  return pick<string>(
    [
      ["flag", s.flags.name as string | undefined],
      ["env", s.env.DEVX_VM],
      ["project", s.project?.vm?.name],
      ["user", s.user.vm_name],
    ],
    "devx",
  );
}

const VM_PROVIDER_VALUES = new Set(["podman", "lima", "colima", "docker-desktop", "orbstack"]);

/**
 * The VM provider: --provider > DEVX_PROVIDER > user config > devx.yaml (vm.provider, then
 * provider) > auto. Unlike other settings the user's machine outranks the project file here: one
 * devx.yaml serves a teammate on Lima and one on Podman. Values of the generic `provider` key that
 * are not VM providers (docker, nerdctl) are skipped.
 */
export function resolveVmProvider(s: Sources): Resolved<string> {
  const vmOnly = (x: unknown) => (typeof x === "string" && VM_PROVIDER_VALUES.has(x) ? x : undefined);
  const flag = s.flags.provider as string | undefined;
  return pick<string>(
    [
      ["flag", flag === "auto" ? undefined : flag],
      ["env", vmOnly(s.env.DEVX_PROVIDER)],
      ["user", vmOnly(s.user.provider)],
      ["project", vmOnly(s.project?.vm?.provider) ?? vmOnly(s.project?.provider)],
    ],
    "auto",
  );
}
