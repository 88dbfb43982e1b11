import { createHash } from "node:crypto";

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

/** The longest Kubernetes label value (and DNS label) there is. */
export const MAX_LABEL_VALUE = 63;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/**
 * Any text as a valid Kubernetes label value, the same text every time: kept as it is when valid,
 * otherwise cleaned (characters outside `[A-Za-z0-9-_.]` become `-`, ends trimmed to alphanumerics),
 * cut to fit, and suffixed with a short hash of the original so two long or odd names that clean up
 * alike still get different values. Selectors built from a project name must use the same rule.
 */
export function labelValue(text: string): string {
  if (text.length <= MAX_LABEL_VALUE && LABEL_VALUE.test(text)) return text;
  const hash = createHash("sha256").update(text).digest("hex").slice(0, 8);
  const trim = (s: string) => s.replace(/^[^A-Za-z0-9]+/, "").replace(/[^A-Za-z0-9]+$/, "");
  const clean = trim(text.replace(/[^A-Za-z0-9_.-]+/g, "-").slice(0, MAX_LABEL_VALUE - hash.length - 1));
  return clean ? `${clean}-${hash}` : hash;
}
