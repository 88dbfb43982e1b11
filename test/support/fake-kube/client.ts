import {
  AuthorizationV1Api, BatchV1Api, CoreV1Api, createConfiguration, KubeConfig, RbacAuthorizationV1Api, ResponseContext,
  ServerConfiguration, wrapHttpLibrary, type RequestContext,
} from "@kubernetes/client-node";
import type { FakeCluster } from "./index.ts";

/**
 * Real @kubernetes/client-node API objects for the fake's own tests. Under Bun the client's REST
 * path ignores the kubeconfig's CA and client certificate, so this passes them through Bun's fetch
 * `tls` option (the production client has its own version of this layer).
 */
export function testFetch(cluster: FakeCluster): typeof fetch {
  const tls = { ca: cluster.tls.ca, cert: cluster.tls.cert, key: cluster.tls.key };
  return ((input: string | URL | Request, init?: RequestInit) => fetch(input, { ...init, tls } as RequestInit)) as typeof fetch;
}

export function testClients(cluster: FakeCluster) {
  const kc = new KubeConfig();
  kc.loadFromString(cluster.kubeconfig);
  const doFetch = testFetch(cluster);
  const httpApi = wrapHttpLibrary({
    async send(req: RequestContext): Promise<ResponseContext> {
      const res = await doFetch(req.getUrl(), { method: req.getHttpMethod(), headers: req.getHeaders(), body: req.getBody() as BodyInit | undefined });
      const headers: Record<string, string> = {};
      res.headers.forEach((v, k) => (headers[k] = v));
      return new ResponseContext(res.status, headers, {
        text: () => res.text(),
        binary: async () => Buffer.from(await res.arrayBuffer()),
        stream: () => res.body,
      });
    },
  });
  const make = <T>(Api: new (c: ReturnType<typeof createConfiguration>) => T): T =>
    new Api(createConfiguration({ baseServer: new ServerConfiguration(cluster.apiUrl, {}), authMethods: { default: kc }, httpApi }));
  return {
    kc,
    fetch: doFetch,
    core: make(CoreV1Api),
    batch: make(BatchV1Api),
    rbac: make(RbacAuthorizationV1Api),
    authz: make(AuthorizationV1Api),
  };
}
