import * as v from "valibot";
import { defineCommand, number, option } from "../../define.ts";
import { UsageError } from "../../../errors.ts";
import { parseSizeMiB } from "../../../config/duration.ts";
import { printPlan, quiet, vmFlags } from "./shared.ts";

export default defineCommand({
  path: ["vm", "resize"],
  group: "Local infrastructure",
  dryRun: "plan",
  summary: "change the VM's CPUs, memory or disk (stops and restarts it if running)",
  description: "Only the given resources change. The disk can only grow. OrbStack and Docker Desktop manage their own VM and cannot be resized from devx.",
  examples: ["devx vm resize --cpus 6 --memory 12GiB", "devx vm resize --disk 120GiB --dry-run"],
  options: v.object({
    ...vmFlags,
    cpus: number("number of CPUs", { min: 1, placeholder: "n" }),
    memory: option('memory, e.g. "8GiB" (a bare number means MiB)', { placeholder: "size" }),
    disk: option('disk size, e.g. "100GiB" (can only grow)', { placeholder: "size" }),
  }),
  async run(opts, deps) {
    if (opts.cpus === undefined && opts.memory === undefined && opts.disk === undefined) throw new UsageError("nothing to resize", "pass --cpus, --memory and/or --disk");
    const size = (flag: string, x?: string) => {
      if (x === undefined) return undefined;
      const mib = parseSizeMiB(x);
      if (mib === undefined || mib <= 0) throw new UsageError(`--${flag}: "${x}" is not a size`, 'use e.g. "8GiB" or "512MiB"');
      return mib;
    };
    const memoryMiB = size("memory", opts.memory);
    const diskMiB = size("disk", opts.disk);
    const { vmResize } = await import("../../../core/vm/lifecycle.ts");
    const r = await vmResize(quiet(deps), { dryRun: deps.global.dryRun, provider: opts.provider, name: opts.name, cpus: opts.cpus, memoryMiB, diskGiB: diskMiB === undefined ? undefined : Math.ceil(diskMiB / 1024) });
    printPlan(deps, r, `VM ${r.vm} resized`);
  },
});
