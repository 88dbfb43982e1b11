/**
 * Label and field selectors with the API server's grammar: `a=b`, `a==b`, `a!=b`, `a in (x,y)`,
 * `a notin (x,y)`, `a`, `!a`, joined by commas (AND). A malformed selector is a 400, as upstream.
 */
type Obj = Record<string, any>;

export class SelectorError extends Error {}

type Requirement =
  | { op: "eq" | "ne"; key: string; value: string }
  | { op: "in" | "notin"; key: string; values: string[] }
  | { op: "exists" | "notexists"; key: string };

const KEY = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?\/)?[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$/;
const VALUE = /^([a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?)?$/;

function splitTopLevel(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  parts.push(cur);
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

function checkKey(key: string, whole: string): string {
  if (!KEY.test(key)) throw new SelectorError(`unable to parse requirement: invalid label key "${key}" in "${whole}"`);
  return key;
}

function checkValue(value: string, whole: string): string {
  if (!VALUE.test(value) || value.length > 63) throw new SelectorError(`unable to parse requirement: invalid label value "${value}" in "${whole}"`);
  return value;
}

function parseRequirement(part: string): Requirement {
  const set = /^(\S+)\s+(in|notin)\s*\((.*)\)$/.exec(part);
  if (set) {
    const values = set[3]!.split(",").map((v) => checkValue(v.trim(), part));
    return { op: set[2] as "in" | "notin", key: checkKey(set[1]!, part), values };
  }
  const cmp = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
  if (cmp) {
    return { op: cmp[2] === "!=" ? "ne" : "eq", key: checkKey(cmp[1]!, part), value: checkValue(cmp[3]!.trim(), part) };
  }
  if (part.startsWith("!")) return { op: "notexists", key: checkKey(part.slice(1).trim(), part) };
  return { op: "exists", key: checkKey(part, part) };
}

export type LabelMatcher = (labels: Record<string, string> | undefined) => boolean;

export function parseLabelSelector(selector: string | null | undefined): LabelMatcher {
  if (!selector) return () => true;
  const reqs = splitTopLevel(selector).map(parseRequirement);
  return (labels) => {
    const l = labels ?? {};
    return reqs.every((r) => {
      const has = Object.hasOwn(l, r.key);
      switch (r.op) {
        case "eq": return has && l[r.key] === r.value;
        case "ne": return !has || l[r.key] !== r.value;
        case "in": return has && r.values.includes(l[r.key]!);
        case "notin": return !has || !r.values.includes(l[r.key]!);
        case "exists": return has;
        case "notexists": return !has;
      }
    });
  };
}

/** A Service/Job-style equality selector map as a matcher; an empty map selects nothing here (Services). */
export function matchesSelectorMap(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** Fields each resource can be selected on (upstream supports a fixed set per kind). */
const FIELDS: Record<string, Record<string, (o: Obj) => string>> = {
  pods: {
    "status.phase": (o) => o.status?.phase ?? "",
    "status.podIP": (o) => o.status?.podIP ?? "",
    "spec.nodeName": (o) => o.spec?.nodeName ?? "",
    "spec.restartPolicy": (o) => o.spec?.restartPolicy ?? "",
    "spec.serviceAccountName": (o) => o.spec?.serviceAccountName ?? "",
  },
  jobs: { "status.successful": (o) => String(o.status?.succeeded ?? 0) },
  namespaces: { "status.phase": (o) => o.status?.phase ?? "" },
  services: { "spec.clusterIP": (o) => o.spec?.clusterIP ?? "", "spec.type": (o) => o.spec?.type ?? "" },
};

export type ObjectMatcher = (o: Obj) => boolean;

export function parseFieldSelector(resource: string, selector: string | null | undefined): ObjectMatcher {
  if (!selector) return () => true;
  const reqs = splitTopLevel(selector).map((part) => {
    const m = /^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!m) throw new SelectorError(`invalid selector: '${part}'; can't understand '${part}'`);
    const field = m[1]!;
    const get = field === "metadata.name" ? (o: Obj) => o.metadata?.name ?? ""
      : field === "metadata.namespace" ? (o: Obj) => o.metadata?.namespace ?? ""
      : FIELDS[resource]?.[field];
    if (!get) throw new SelectorError(`field label not supported: ${field}`);
    return { get, ne: m[2] === "!=", value: m[3]!.trim() };
  });
  return (o) => reqs.every((r) => (r.get(o) === r.value) !== r.ne);
}
