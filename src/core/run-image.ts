import { ProviderError } from "../errors.ts";
import type { Emit } from "../events/types.ts";
import { ExecFailure } from "../platform/exec.ts";
import type { ContainerRuntime, RunSpec } from "../../providers/runtime/types.ts";

/**
 * `run` of a container whose image may have to be pulled first — for `devx db spawn` and the
 * container nodes of `devx up` alike. An image that is not here is said before the pull (it can
 * take minutes); a run that then fails is reported as the image that could not be pulled, with the
 * runtime's own last line as the reason and `hint` saying which key picks another image.
 */
export async function runImage(rt: ContainerRuntime, spec: RunSpec, o: { what: string; emit: Emit; hint: string }): Promise<void> {
  const local = await rt.imageExists(spec.image);
  if (!local) o.emit({ type: "info", message: `${spec.image} is not here yet: ${rt.displayName} pulls it first` });
  try {
    await rt.run(spec);
  } catch (e) {
    if (local || !(e instanceof ProviderError)) throw e;
    const reason = e.cause instanceof ExecFailure ? e.cause.lastLine : undefined;
    throw new ProviderError(`could not start ${o.what}: ${spec.image} is not available here and could not be pulled${reason ? ` (${rt.displayName}: ${reason.replace(/^Error:\s*/, "")})` : ""}`, o.hint, { cause: e });
  }
}
