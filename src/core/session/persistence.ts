import type { WorkspacePersistence } from "./controller.ts";

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
