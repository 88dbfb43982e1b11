import { readFileSync } from "node:fs";
import {
  ApiException,
  AuthorizationV1Api,
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  NetworkingV1Api,
  RbacAuthorizationV1Api,
  ResponseContext,
  ServerConfiguration,
  createConfiguration,
  wrapHttpLibrary,
  type RequestContext,
} from "@kubernetes/client-node";
import { ConfigError, ConflictError, DevxError, NetworkError, NotFoundError, PermissionError, ProviderError } from "../../src/errors.ts";

/**
 * The kube client factory. Everything goes through @kubernetes/client-node, with one fix: under Bun
 * its REST path (undici fetch with a dispatcher) ignores the kubeconfig's CA, client certificate and
 * insecure-skip-tls-verify, so the generated APIs get an HTTP layer that passes them through Bun's
 * `tls` fetch option. Watches use the same layer; port-forward (ws) already honours them.
 */
export interface TlsOptions {
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized?: boolean;
  serverName?: string;
}

export interface KubeClient {
  kc: KubeConfig;
  /** the namespace from --namespace, bridge.namespace, the context, or "default" */
  namespace: string;
  context: string;
  server: string;
  tls: TlsOptions;
  core: CoreV1Api;
  batch: BatchV1Api;
  rbac: RbacAuthorizationV1Api;
  networking: NetworkingV1Api;
  authz: AuthorizationV1Api;
  /** authenticated fetch against the API server (for watches and anything the typed APIs lack) */
  fetch(path: string, init?: RequestInit): Promise<Response>;
}

export interface KubeOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  env?: Record<string, string | undefined>;
}

const pemOf = (file?: string, data?: string): string | undefined => {
  if (file) return readFileSync(file, "utf8");
  if (data) return Buffer.from(data, "base64").toString("utf8");
  return undefined;
};

/** The TLS material the current context asks for, as Bun's fetch wants it. */
export function tlsFor(kc: KubeConfig): TlsOptions {
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  const tls: TlsOptions = {};
  const ca = pemOf(cluster?.caFile, cluster?.caData);
  if (ca) tls.ca = ca;
  const cert = pemOf(user?.certFile, user?.certData);
  const key = pemOf(user?.keyFile, user?.keyData);
  if (cert && key) {
    tls.cert = cert;
    tls.key = key;
  }
  if (cluster?.skipTLSVerify) tls.rejectUnauthorized = false;
  if (cluster?.tlsServerName) tls.serverName = cluster.tlsServerName;
  return tls;
}

function bunTls(tls: TlsOptions): Record<string, unknown> {
  return { ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: tls.rejectUnauthorized ?? true, serverName: tls.serverName };
}

/** A client for a KubeConfig that is already loaded (the CLI's kubeconfig or the agent's SA). */
export function clientFor(kc: KubeConfig, namespace: string): KubeClient {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new ConfigError("the kubeconfig has no cluster for the current context", "check `current-context` in your kubeconfig, or pass --context");
  const tls = tlsFor(kc);
  const tlsOpt = bunTls(tls);
  const httpApi = wrapHttpLibrary({
    async send(req: RequestContext): Promise<ResponseContext> {
      const resp = await fetch(req.getUrl(), {
        method: req.getHttpMethod().toString(),
        body: req.getBody() as BodyInit | undefined,
        headers: req.getHeaders(),
        signal: req.getSignal() as AbortSignal | undefined,
        tls: tlsOpt,
      } as RequestInit);
      const headers: Record<string, string> = {};
      resp.headers.forEach((v, k) => (headers[k] = v));
      return new ResponseContext(resp.status, headers, {
        text: () => resp.text(),
        binary: async () => Buffer.from(await resp.arrayBuffer()),
        stream: () => resp.body,
      });
    },
  });
  const config = createConfiguration({ baseServer: new ServerConfiguration(cluster.server, {}), authMethods: { default: kc }, httpApi });
  const authedFetch = async (path: string, init: RequestInit = {}) => {
    const { RequestContext: Ctx, HttpMethod } = await import("@kubernetes/client-node");
    const ctx = new Ctx(cluster.server + path, HttpMethod.GET);
    await kc.applySecurityAuthentication(ctx);
    const headers = { ...ctx.getHeaders(), ...(init.headers as Record<string, string> | undefined) };
    return fetch(cluster.server + path, { ...init, headers, tls: tlsOpt } as RequestInit);
  };
  return {
    kc,
    namespace,
    context: kc.getCurrentContext(),
    server: cluster.server,
    tls,
    core: new CoreV1Api(config),
    batch: new BatchV1Api(config),
    rbac: new RbacAuthorizationV1Api(config),
    networking: new NetworkingV1Api(config),
    authz: new AuthorizationV1Api(config),
    fetch: authedFetch,
  };
}

/** The user's cluster: kubeconfig (flag/config > $KUBECONFIG > ~/.kube/config), context and namespace. */
export function loadKube(opts: KubeOptions = {}): KubeClient {
  const env = opts.env ?? process.env;
  const kc = new KubeConfig();
  const file = opts.kubeconfig ?? env.KUBECONFIG?.split(":")[0] ?? `${env.HOME}/.kube/config`;
  try {
    kc.loadFromFile(file);
  } catch (e) {
    throw new ConfigError(`cannot read kubeconfig ${file}: ${(e as Error).message.split("\n")[0]}`, "set bridge.kubeconfig in devx.yaml, $KUBECONFIG, or create ~/.kube/config");
  }
  if (opts.context) {
    if (!kc.getContextObject(opts.context)) {
      const known = kc.getContexts().map((c) => c.name).join(", ") || "none";
      throw new ConfigError(`context "${opts.context}" is not in ${file}`, `use one of: ${known}`);
    }
    kc.setCurrentContext(opts.context);
  }
  const ctx = kc.getContextObject(kc.getCurrentContext());
  if (!ctx) throw new ConfigError(`the kubeconfig ${file} has no current context`, "pass --context, or run `kubectl config use-context <name>`");
  return clientFor(kc, opts.namespace ?? ctx.namespace ?? "default");
}

/**
 * The in-cluster client of the agent: its ServiceAccount token and CA from DEVX_SA_DIR (or the
 * standard mount). A pod without a token (automountServiceAccountToken: false on the pod or its
 * ServiceAccount, or a policy stripping the mount) cannot heal its Service: that is said plainly.
 */
export function inClusterKube(env: Record<string, string | undefined> = process.env): KubeClient {
  const dir = env.DEVX_SA_DIR ?? "/var/run/secrets/kubernetes.io/serviceaccount";
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? "443";
  if (!host) throw new ConfigError("KUBERNETES_SERVICE_HOST is not set", "the agent runs inside a pod; start it through `devx bridge intercept`");
  const read = (f: string) => {
    try {
      return readFileSync(`${dir}/${f}`, "utf8").trim();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new PermissionError(
        `the agent has no ServiceAccount ${f} at ${dir}/${f} (${code ?? (e as Error).message})`,
        "the agent needs its ServiceAccount token to restore the Service: allow automountServiceAccountToken for the devx agent pods (a namespace policy or the ServiceAccount may turn it off)",
      );
    }
  };
  const token = read("token");
  if (!token) throw new PermissionError(`the agent's ServiceAccount token at ${dir}/token is empty`, "allow automountServiceAccountToken for the devx agent pods");
  read("ca.crt");
  const kc = new KubeConfig();
  const server = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  kc.loadFromClusterAndUser({ name: "in-cluster", server, caFile: `${dir}/ca.crt`, skipTLSVerify: false }, { name: "sa", token });
  return clientFor(kc, env.POD_NAMESPACE ?? read("namespace"));
}

/** The HTTP status of a client-node error, or undefined for transport errors. */
export function statusOf(e: unknown): number | undefined {
  if (e instanceof ApiException) return e.code;
  const code = (e as { code?: unknown; statusCode?: unknown })?.statusCode ?? (e as { code?: unknown })?.code;
  return typeof code === "number" ? code : undefined;
}

/** Wrap a client-node/API/transport error once, into a typed devx error with a hint. */
export function kubeError(e: unknown, what: string, server = "the cluster"): DevxError {
  if (e instanceof DevxError) return e;
  const status = statusOf(e);
  const body = e instanceof ApiException ? (e.body as { message?: string } | string | undefined) : undefined;
  const detail = typeof body === "object" && body?.message ? body.message : typeof body === "string" && body ? body.slice(0, 200) : "";
  if (status === 403) return new PermissionError(`${what}: forbidden${detail ? ` (${detail})` : ""}`, "ask a cluster admin for the permissions `devx bridge rbac` prints");
  if (status === 401) return new PermissionError(`${what}: unauthorized`, "your kubeconfig credentials were rejected; log in to the cluster again");
  if (status === 404) return new NotFoundError(`${what}: not found${detail ? ` (${detail})` : ""}`, "check the name and --namespace");
  if (status === 409) return new ConflictError(`${what}: conflict${detail ? ` (${detail})` : ""}`, "someone changed the object at the same time; retry");
  if (status !== undefined) return new ProviderError(`${what}: the API server answered ${status}${detail ? ` (${detail})` : ""}`, "retry, or run with --debug");
  const msg = (e as Error)?.message?.split("\n")[0] ?? String(e);
  return new NetworkError(`${what}: cannot reach ${server} (${msg})`, "check the cluster is reachable (VPN?) and the kubeconfig's server address");
}

/** Run one API call, wrapping its error. */
export async function kcall<T>(what: string, fn: () => Promise<T>, server?: string): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw kubeError(e, what, server);
  }
}
