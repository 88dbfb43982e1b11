import type { KubeBridge, Pod } from "../../../providers/kube/bridge.ts";
import { ProviderError, UnhealthyError } from "../../errors.ts";
import { agentName } from "./agent-spec.ts";

/** The agent pod's life as the intercept sees it: wait for it, tell when it is gone, delete what it was made of. */

export const podReady = (p: Pod) => p.status?.phase === "Running" && !!p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True");

/** Waiting reasons the kubelet keeps retrying but that will not fix themselves in an intercept's time. */
const IMAGE_REASONS = new Set(["ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"]);
const CONFIG_REASONS = new Set(["CreateContainerConfigError", "CreateContainerError", "RunContainerError"]);

/** Why the agent pod cannot start, as a typed error with what to do; undefined while it still may. */
export function agentPodFailure(pod: Pod, image: string): ProviderError | undefined {
  const name = pod.metadata?.name;
  const statuses = pod.status?.containerStatuses ?? [];
  for (const cs of statuses) {
    const w = cs.state?.waiting;
    if (w?.reason && IMAGE_REASONS.has(w.reason)) {
      const local = image.startsWith("localhost/");
      return new ProviderError(
        `the cluster cannot pull the agent image ${image}: ${w.reason}${w.message ? ` (${w.message})` : ""}`,
        local
          ? "the default image exists only where it was loaded by hand (kind, minikube); publish it to a registry the cluster can pull from and set bridge.agent_image (see docs/bridge.md, \"Agent image\")"
          : `check that ${image} exists for the node's architecture and that the cluster may pull it (imagePullSecrets); bridge.agent_image or DEVX_AGENT_IMAGE selects another`,
      );
    }
    if (w?.reason && CONFIG_REASONS.has(w.reason)) {
      return new ProviderError(`the agent pod ${name} cannot start: ${w.reason}${w.message ? ` (${w.message})` : ""}`, `see \`kubectl describe pod ${name}\`; a policy of the namespace may forbid what the agent's spec asks for`);
    }
  }
  if (pod.status?.phase === "Failed" || pod.status?.phase === "Succeeded") {
    const t = statuses[0]?.state?.terminated;
    return new ProviderError(`the agent pod ${name} ended before it was ready (${pod.status.phase}${t ? `, exit code ${t.exitCode}` : ""})`, `see \`kubectl logs ${name}\``);
  }
  return undefined;
}

/** Wait for the session's agent pod to be Ready, through a watch (no polling); fail as soon as it cannot start. */
export function waitForAgentPod(kube: KubeBridge, namespace: string, session: string, image: string, timeoutMs: number, signal: AbortSignal): Promise<Pod> {
  const ac = new AbortController();
  const stop = () => ac.abort();
  signal.addEventListener("abort", stop, { once: true });
  return new Promise<Pod>((resolve, reject) => {
    const timer = setTimeout(() => (done(), reject(new UnhealthyError(`the agent pod for session ${session} was not ready after ${Math.round(timeoutMs / 1000)} s`, `check \`kubectl describe pod -l devx.session=${session}\` (quota? node capacity?)`))), timeoutMs);
    const done = () => {
      clearTimeout(timer);
      ac.abort();
      signal.removeEventListener("abort", stop);
    };
    signal.addEventListener("abort", () => (done(), reject(signal.reason)), { once: true });
    void kube.watchPods(
      namespace,
      `devx.session=${session}`,
      (ev) => {
        if (ev.type === "DELETED") return;
        const failure = agentPodFailure(ev.object, image);
        if (failure) {
          done();
          reject(failure);
        } else if (podReady(ev.object)) {
          done();
          resolve(ev.object);
        }
      },
      ac.signal,
    );
  });
}

/** Everything an intercept created, by name (what is already gone is fine); then wait for its pods to go. */
export async function deleteAgentObjects(kube: KubeBridge, namespace: string, session: string): Promise<void> {
  const name = agentName(session);
  for (const kind of ["Job", "NetworkPolicy", "RoleBinding", "Role", "Secret", "ServiceAccount"] as const) await kube.delete(namespace, kind, name);
  await podsGone(kube, namespace, session, 20_000);
}

/**
 * Job deletion removes its pods in the background (the agent gets SIGTERM and exits); wait for that,
 * through a watch, so "disconnected" means nothing of the session is left.
 */
async function podsGone(kube: KubeBridge, namespace: string, session: string, timeoutMs: number): Promise<void> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const pods = new Set<string>();
  let listed = false;
  await new Promise<void>((resolve) => {
    ac.signal.addEventListener("abort", () => resolve(), { once: true });
    const check = () => listed && pods.size === 0 && (ac.abort(), resolve());
    void kube.watchPods(
      namespace,
      `devx.session=${session}`,
      (ev) => {
        if (ev.type === "DELETED") pods.delete(ev.object.metadata!.name!);
        else pods.add(ev.object.metadata!.name!);
        check();
      },
      ac.signal,
      { onSync: () => pods.clear(), onListed: () => ((listed = true), check()) },
    );
  });
  clearTimeout(timer);
}

/** The agent is gone for good: its pod deleted or finished. */
export async function agentGone(kube: KubeBridge, namespace: string, pod: string): Promise<boolean> {
  const p = await kube.readPod(namespace, pod);
  return !p || p.status?.phase === "Succeeded" || p.status?.phase === "Failed";
}
