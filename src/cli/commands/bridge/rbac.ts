import * as v from "valibot";
import { choice, defineCommand, option } from "../../define.ts";

export default defineCommand({
  path: ["bridge", "rbac"],
  group: "Kubernetes & hybrid",
  dryRun: "read-only",
  summary: "print the minimal Role and RoleBinding a user needs for bridge connect, intercept, status and cleanup",
  examples: ["devx bridge rbac -n staging --user alice@example.com | kubectl apply -f -", "devx bridge rbac -n staging --group developers"],
  options: v.object({
    namespace: option("namespace the permissions are for (default: bridge.namespace, then the kubeconfig's)", { short: "n", placeholder: "ns" }),
    user: option("bind to this user", { placeholder: "name" }),
    group: option("bind to this group", { placeholder: "name" }),
    serviceAccount: option("bind to this ServiceAccount (in the namespace)", { placeholder: "name" }),
    format: choice("output format", ["yaml"]),
  }),
  async run(opts, deps) {
    const { rbacYaml } = await import("../../../core/bridge/rbac.ts");
    let namespace = opts.namespace ?? deps.env.DEVX_KUBE_NAMESPACE ?? (await deps.findConfig())?.config.bridge?.namespace;
    if (!namespace) {
      const { loadKubeBridge } = await import("../../../../providers/kube/bridge.ts");
      namespace = (() => {
        try {
          return loadKubeBridge({ env: deps.env }).namespace;
        } catch {
          return "default";
        }
      })();
    }
    const subject = opts.serviceAccount ? { kind: "ServiceAccount" as const, name: opts.serviceAccount } : opts.group ? { kind: "Group" as const, name: opts.group } : { kind: "User" as const, name: opts.user ?? "<your user>" };
    deps.io.out.write(rbacYaml(namespace, subject));
    return 0;
  },
});
