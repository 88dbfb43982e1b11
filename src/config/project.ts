import { createHash } from "node:crypto";
import { basename } from "node:path";

/** Longest label value Kubernetes and the container runtimes accept. */
const MAX = 63;

/**
 * The project name, one rule for every capability (database, bridge, state, `up` sessions and logs,
 * the dashboard): devx.yaml's `name:`; else the name of the directory holding devx.yaml; without a
 * devx.yaml, the working directory's name. Lower-cased, every run of characters outside a–z, 0–9
 * and "-" becomes "-", leading and trailing dashes go. A result longer than 63 characters keeps its
 * first 54 and ends in "-" + 8 hex digits of its SHA-256, so two long names stay distinct; an
 * empty result is "default". The result is a valid label value, container-name part and file name.
 */
export function projectName(loaded: { config: { name?: string }; dir: string } | undefined, cwd: string): string {
  const raw = loaded?.config.name ?? basename(loaded?.dir ?? cwd);
  const n = raw.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "");
  if (!n) return "default";
  if (n.length <= MAX) return n;
  const hash = createHash("sha256").update(n).digest("hex").slice(0, 8);
  return `${n.slice(0, MAX - 9).replace(/-+$/, "")}-${hash}`;
}
