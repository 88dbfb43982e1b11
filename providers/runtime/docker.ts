import { CliRuntime, type CliRuntimeOptions } from "./cli-family.ts";

/** Docker: no checkpointer (its experimental checkpoint cannot export/import portably), so db-only. */
export class DockerRuntime extends CliRuntime {
  constructor(opts: Omit<CliRuntimeOptions, "bin"> & { bin?: string }) {
    super({ ...opts, bin: opts.bin ?? "docker" });
  }
}
