import type { Relay } from "../../../providers/relay/types.ts";
import { NotFoundError } from "../../errors.ts";
import type { WorkspacePersistence } from "./controller.ts";
import { deriveWorkspaceKey, gcWorkspace, pullWorkspace, pushWorkspace } from "./workspace/index.ts";

/**
 * No bucket configured: the workspace's labelled volume is its only copy. Stop removes the sandbox
 * and keeps the volume (start mounts it again); delete removes both. Nothing is pulled or pushed.
 */
export const volumeOnlyPersistence: WorkspacePersistence = {
  keepsWorkspace: true,
  async pull() {
    return false;
  },
  async push() {
    return { files: 0, bytes: 0 };
  },
  async remove() {},
};

/**
 * The team's bucket (any relay: s3, gs, file) holds each workspace: start fills the fresh volume
 * from the session's latest manifest (or the template's), stop pushes incrementally and verifies
 * before the sandbox is deleted (src/core/session/workspace). `key`: the control plane's secret for
 * client-side encryption (a key per session derived from it); without one the bucket's own
 * encryption is all there is.
 */
export function bucketPersistence(relay: Relay, opts: { key?: Buffer; excludes?: string[] } = {}): WorkspacePersistence {
  const keyFor = (prefix: string) => (opts.key ? deriveWorkspaceKey(opts.key, prefix) : undefined);
  return {
    keepsWorkspace: false,
    async pull(prefix, dir, o) {
      try {
        await pullWorkspace(relay, prefix, dir, { key: keyFor(prefix), minSeq: o?.minSeq });
        return true;
      } catch (e) {
        if (e instanceof NotFoundError && o?.minSeq === undefined) return false;
        throw e;
      }
    },
    async push(prefix, dir) {
      const r = await pushWorkspace(dir, relay, prefix, { key: keyFor(prefix), excludes: opts.excludes });
      // older manifests and what only they reference go once this one is verified
      await gcWorkspace(relay, prefix, 3, { key: keyFor(prefix) }).catch(() => {});
      return { files: r.manifest.entries.filter((e) => e.kind === "file").length, bytes: r.bytes, seq: r.seq };
    },
    async remove(prefix) {
      const mine = (await relay.list()).filter((o) => o.object.startsWith(`${prefix}.`));
      for (const o of mine) await relay.delete(o.object);
    },
  };
}
