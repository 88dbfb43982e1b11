/**
 * Labels on everything devx creates (containers, volumes, pods, Jobs, Service patches, cloud
 * objects), so it can be found, listed and cleaned up without a local record.
 */
export const LABEL = {
  managed: "devx.managed",
  project: "devx.project",
  kind: "devx.kind",
  engine: "devx.engine",
  session: "devx.session",
  service: "devx.service",
} as const;

export type DevxKind = "database" | "service" | "session" | "agent" | "tunnel" | "restore-point";

export function devxLabels(project: string, kind: DevxKind, extra: Record<string, string> = {}): Record<string, string> {
  return { [LABEL.managed]: "true", [LABEL.project]: project, [LABEL.kind]: kind, ...extra };
}
