import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { startFakeCluster, type FakeCluster } from "../../support/fake-kube/index.ts";
import { inClusterKube, kcall, loadKube } from "../../../providers/kube/client.ts";
import { ConfigError, NetworkError, PermissionError } from "../../../src/errors.ts";

/**
 * The Bun TLS gap: client-node's REST path ignores the kubeconfig's CA and client certificate under
 * Bun. These run the production client against an HTTPS API server that requires a client cert.
 */
let cluster: FakeCluster;
beforeAll(async () => {
  cluster = await startFakeCluster({ namespace: "team-a" });
});
afterAll(async () => {
  await cluster?.stop();
});

function variant(name: string, edit: (cfg: any) => void): string {
  const cfg = YAML.parse(cluster.kubeconfig);
  edit(cfg);
  const p = join(process.env.DEVX_TEST_ROOT!, `kubeconfig-${name}`);
  writeFileSync(p, YAML.stringify(cfg));
  return p;
}

describe("kube client under Bun", () => {
  test("CA and client certificate from the kubeconfig are used; namespace comes from the context", async () => {
    const kube = loadKube({ kubeconfig: cluster.kubeconfigPath });
    expect(kube.namespace).toBe("team-a");
    const list = await kube.core.listNamespacedPod({ namespace: kube.namespace });
    expect(list.items).toEqual([]);
    expect(cluster.requests.at(-1)).toMatchObject({ method: "GET", status: 200 });
    expect(cluster.requests.at(-1)!.user).not.toBe("system:anonymous");
  });

  test("a server certificate that the kubeconfig's CA did not sign is refused", async () => {
    const wrongCa = variant("wrong-ca", (c) => (c.clusters[0].cluster["certificate-authority-data"] = Buffer.from(cluster.tls.cert).toString("base64")));
    const kube = loadKube({ kubeconfig: wrongCa });
    const err = await kcall("list pods", () => kube.core.listNamespacedPod({ namespace: "team-a" })).catch((e) => e);
    expect(err).toBeInstanceOf(NetworkError);
  });

  test("insecure-skip-tls-verify is honoured", async () => {
    const insecure = variant("insecure", (c) => {
      delete c.clusters[0].cluster["certificate-authority-data"];
      c.clusters[0].cluster["insecure-skip-tls-verify"] = true;
    });
    const kube = loadKube({ kubeconfig: insecure });
    expect((await kube.core.listNamespacedPod({ namespace: "team-a" })).items).toEqual([]);
  });

  test("without a client certificate the server rejects us, as a permission error with a hint", async () => {
    const anon = variant("anon", (c) => {
      delete c.users[0].user["client-certificate-data"];
      delete c.users[0].user["client-key-data"];
    });
    const kube = loadKube({ kubeconfig: anon });
    const err = await kcall("list pods", () => kube.core.listNamespacedPod({ namespace: "team-a" })).catch((e) => e);
    expect(err).toBeInstanceOf(PermissionError);
    expect(err.hint).not.toBe("");
  });

  test("--context and --namespace override the kubeconfig; an unknown context is a config error listing the known ones", () => {
    const two = variant("two", (c) => c.contexts.push({ name: "other", context: { ...c.contexts[0].context, namespace: "team-b" } }));
    expect(loadKube({ kubeconfig: two, context: "other" }).namespace).toBe("team-b");
    expect(loadKube({ kubeconfig: two, context: "other", namespace: "x" }).namespace).toBe("x");
    expect(() => loadKube({ kubeconfig: two, context: "nope" })).toThrow(ConfigError);
    let err: ConfigError | undefined;
    try {
      loadKube({ kubeconfig: two, context: "nope" });
    } catch (e) {
      err = e as ConfigError;
    }
    expect(err?.hint).toContain("fake, other");
  });

  test("in a pod without a ServiceAccount token (or an empty one), the agent's client is a permission error with a hint, not a crash", () => {
    const dir = mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "sa-"));
    const env = { KUBERNETES_SERVICE_HOST: "10.96.0.1", DEVX_SA_DIR: dir, POD_NAMESPACE: "team-a" };
    const missing = (() => {
      try {
        inClusterKube(env);
      } catch (e) {
        return e as PermissionError;
      }
    })();
    expect(missing).toBeInstanceOf(PermissionError);
    expect(missing!.message).toBe(`the agent has no ServiceAccount token at ${dir}/token (ENOENT)`);
    expect(missing!.hint).toContain("automountServiceAccountToken");
    writeFileSync(join(dir, "token"), "");
    expect(() => inClusterKube(env)).toThrow(PermissionError);
    writeFileSync(join(dir, "token"), "t0ken");
    writeFileSync(join(dir, "ca.crt"), cluster.tls.ca);
    expect(inClusterKube(env).namespace).toBe("team-a");
  });
});

