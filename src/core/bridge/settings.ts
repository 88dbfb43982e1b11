import { projectName } from "../../config/project.ts";
import type { KubeBridge } from "../../../providers/kube/bridge.ts";
import type { Emit } from "../../events/types.ts";
import type { LoadedConfig } from "../../config/load.ts";
import { durationMs } from "../../config/duration.ts";
import { VERSION } from "../../version.ts";
import { DEFAULT_AGENT_IMAGE } from "./agent-spec.ts";

/**
 * What the bridge use-cases need from the outside, a structural subset of the CLI's Deps (so a
 * caller such as `devx up` passes its deps as they are). The kube client is built lazily from the
 * kubeconfig; tests and the agent can inject one.
 */
export interface BridgeDeps {
  env: Record<string, string | undefined>;
  cwd: string;
  paths: { state: string };
  emit: Emit;
  signal: AbortSignal;
  findConfig(): Promise<LoadedConfig | undefined>;
}

export interface KubeSelection {
  context?: string;
  namespace?: string;
  kubeconfig?: string;
}

export interface BridgeSettings {
  kube: KubeBridge;
  namespace: string;
  project: string;
  agentImage: string;
  graceMs: number;
  autoPort: boolean;
  targets: string[];
  selection: KubeSelection;
}

/** Precedence: flags > DEVX_KUBE_* env > devx.yaml `bridge:` > the kubeconfig's own context/namespace. */
export async function bridgeSettings(deps: BridgeDeps, flags: KubeSelection = {}): Promise<BridgeSettings> {
  const loaded = await deps.findConfig();
  const b = loaded?.config.bridge ?? {};
  const selection: KubeSelection = {
    kubeconfig: flags.kubeconfig ?? deps.env.DEVX_KUBECONFIG ?? b.kubeconfig,
    context: flags.context ?? deps.env.DEVX_KUBE_CONTEXT ?? b.context,
    namespace: flags.namespace ?? deps.env.DEVX_KUBE_NAMESPACE ?? b.namespace,
  };
  const { loadKubeBridge } = await import("../../../providers/kube/bridge.ts");
  const kube = loadKubeBridge({ ...selection, env: deps.env });
  return {
    kube,
    namespace: kube.namespace,
    project: projectName(loaded, deps.cwd),
    agentImage: deps.env.DEVX_AGENT_IMAGE ?? b.agent_image ?? DEFAULT_AGENT_IMAGE(VERSION),
    graceMs: durationMs(b.grace_period, 30_000),
    autoPort: b.auto_port ?? false,
    targets: b.targets ?? [],
    selection,
  };
}

/** `BRIDGE_<SVC>_…`: the Service name upper-cased, anything not alphanumeric as `_`. */
export const envPrefix = (service: string) => `BRIDGE_${service.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;

export const randomSession = () => crypto.getRandomValues(new Uint8Array(4)).reduce((s, b) => s + b.toString(16).padStart(2, "0"), "");
