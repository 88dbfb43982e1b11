import { CliRuntime, type CliRuntimeOptions } from "./cli-family.ts";

/** nerdctl (containerd; Lima/Colima): no checkpointer, so db-only. */
export class NerdctlRuntime extends CliRuntime {
  constructor(opts: Omit<CliRuntimeOptions, "bin"> & { bin?: string }) {
    super({ ...opts, bin: opts.bin ?? "nerdctl" });
  }
}
