/**
 * Workspace persistence through the team's relay (bucket or shared directory): incremental,
 * content-addressed pushes with an atomic commit point, hostile-input-safe pulls, periodic
 * checkpoints and garbage collection. Format and guarantees: docs/session-workspace.md.
 */
export { deriveWorkspaceKey, type Entry, type Manifest, type Limits } from "./format.ts";
export { pushWorkspace, type PushOptions, type PushProgress, type PushResult } from "./push.ts";
export { pullWorkspace, type PullOptions, type PullResult } from "./pull.ts";
export { gcWorkspace, type GcResult } from "./gc.ts";
export { createCheckpointer, type Checkpointer } from "./checkpoint.ts";
