import type { KubeBridge, Service } from "./bridge.ts";
import { ConflictError } from "../../src/errors.ts";

/**
 * The Service side of an intercept: the selector swap and its undo. The annotation carries the
 * original selector, so anyone (the CLI, the agent, `devx bridge cleanup`, a human with kubectl)
 * can put the Service back.
 */
export const INTERCEPT_ANNOTATION = "devx.io/intercept";

export interface InterceptAnnotation {
  session: string;
  originalSelector: Record<string, string>;
  ports: Array<{ name: string; port: number; targetPort: number | string }>;
  since: string;
  mirror?: boolean;
  user?: string;
}

export function readAnnotation(svc: { metadata?: { annotations?: Record<string, string> } }): InterceptAnnotation | undefined {
  const raw = svc.metadata?.annotations?.[INTERCEPT_ANNOTATION];
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as InterceptAnnotation;
  } catch {
    return undefined;
  }
}

/** A selector as the API's labelSelector query (`app=api,tier=web`). */
export function labelSelector(sel: Record<string, string>): string {
  return Object.entries(sel).map(([k, v]) => `${k}=${v}`).join(",");
}

/**
 * A JSON merge patch turning selector `from` into `to`: merge patches merge maps, so every key of
 * `from` that `to` lacks must be nulled explicitly or the two selectors would be unioned.
 */
export function selectorPatch(from: Record<string, string>, to: Record<string, string>): Record<string, string | null> {
  const out: Record<string, string | null> = { ...to };
  for (const k of Object.keys(from)) if (!(k in to)) out[k] = null;
  return out;
}

/** Point the Service at the agent pod, recording the original selector in the annotation. */
export async function swapSelector(kube: KubeBridge, svc: Service, agentSelector: Record<string, string>, ann: InterceptAnnotation): Promise<Service> {
  const current = svc.spec?.selector ?? {};
  return kube.patchService(svc.metadata!.namespace!, svc.metadata!.name!, {
    metadata: { annotations: { [INTERCEPT_ANNOTATION]: JSON.stringify(ann) }, resourceVersion: svc.metadata?.resourceVersion },
    spec: { selector: selectorPatch(current, agentSelector) },
  });
}

/**
 * Put back the original selector if (and only if) the Service is still intercepted by `session`
 * (any session when undefined). Returns whether anything was restored. The resourceVersion makes a
 * concurrent change fail with a conflict rather than be overwritten.
 */
export async function restoreSelector(kube: KubeBridge, namespace: string, name: string, session?: string): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    const svc = await kube.readService(namespace, name);
    const ann = readAnnotation(svc);
    if (!ann || (session && ann.session !== session)) return false;
    try {
      await kube.patchService(namespace, name, {
        metadata: { annotations: { [INTERCEPT_ANNOTATION]: null }, resourceVersion: svc.metadata?.resourceVersion },
        spec: { selector: selectorPatch(svc.spec?.selector ?? {}, ann.originalSelector) },
      });
      return true;
    } catch (e) {
      if (e instanceof ConflictError && attempt < 5) continue;
      throw e;
    }
  }
}
