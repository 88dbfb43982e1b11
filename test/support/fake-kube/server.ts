import http from "node:http";
import net from "node:net";
import tls from "node:tls";
import type { ClusterCerts } from "./certs.ts";
import {
  portForwardClose, portForwardDrain, type PortForwardData, portForwardMessage, portForwardOpen, PORTFORWARD_PROTOCOLS,
} from "./portforward.ts";
import { acceptKey, RawWebSocket } from "./websocket.ts";
import { listensOnPodLocalhost } from "./netns.ts";
import { type Attributes, forbiddenMessage, type Identity } from "./rbac.ts";
import { handleRest, json, type RestContext } from "./rest.ts";
import { ApiError } from "./status.ts";
import { apiVersionOf, findResource, resourceByKind, RESOURCES } from "./store.ts";

/**
 * The API server: TLS on 127.0.0.1 in front (it sees the client certificate). A connection whose
 * first request is a WebSocket upgrade (port-forward) is served right there, on the TLS socket,
 * like a real API server (one process, backpressure both ways); every other connection goes to
 * node:http behind, which, unlike Bun.serve, sends a watch's response headers before the first
 * event (clients wait for them). The front tells the back who a connection belongs to by the
 * back-side source port, so identity never travels in a header a client could forge.
 */

/** What port-forward needs of the server it upgrades on. */
interface Upgrader {
  upgrade(req: Request, o: { data: PortForwardData; headers: Record<string, string> }): boolean;
}

export interface ApiServerOptions {
  certs: ClusterCerts;
  /** the Kubernetes minor version served (1.30–1.35): /version, and how port-forward is authorized */
  minor: number;
  ctx: RestContext;
  /** Bearer token → identity (service-account tokens the fake issued). */
  tokens: Map<string, Identity>;
  /** Every request, for assertions on what the client did. */
  requests: { method: string; path: string; user: string; status: number }[];
  /** Every JSON request body, for assertions on what the client sent. */
  bodies: { method: string; path: string; body: unknown }[];
}

export interface ApiServer {
  port: number;
  url: string;
  /** Cuts every open port-forward without a close handshake (network loss); returns how many. */
  dropPortForwards(): number;
  stop(): Promise<void>;
}

const versionInfo = (minor: number) => ({ major: "1", minor: String(minor), gitVersion: `v1.${minor}.0-fake`, gitCommit: "fake", gitTreeState: "clean", buildDate: "2026-01-01T00:00:00Z", goVersion: "go1.24", compiler: "gc", platform: "linux/amd64" });

function discovery(path: string, minor: number): unknown | undefined {
  const groups = [...new Set(RESOURCES.filter((r) => r.group).map((r) => r.group))];
  if (path === "/version") return versionInfo(minor);
  if (path === "/api") return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1:443" }] };
  const groupDoc = (g: string) => ({ name: g, versions: [{ groupVersion: `${g}/v1`, version: "v1" }], preferredVersion: { groupVersion: `${g}/v1`, version: "v1" } });
  if (path === "/apis") return { kind: "APIGroupList", apiVersion: "v1", groups: groups.map(groupDoc) };
  const m = /^\/(?:api\/v1|apis\/([^/]+)\/v1)$/.exec(path);
  const g = /^\/apis\/([^/]+)$/.exec(path);
  if (g && groups.includes(g[1]!)) return { kind: "APIGroup", apiVersion: "v1", ...groupDoc(g[1]!) };
  if (!m) return undefined;
  const group = m[1] ?? "";
  const rts = RESOURCES.filter((r) => r.group === group);
  if (rts.length === 0) return undefined;
  const resources = rts.flatMap((r) => [
    { name: r.resource, singularName: r.kind.toLowerCase(), namespaced: r.namespaced, kind: r.kind, verbs: r.verbs, ...(r.shortNames ? { shortNames: r.shortNames } : {}) },
    ...(r.status ? [{ name: `${r.resource}/status`, singularName: "", namespaced: r.namespaced, kind: r.kind, verbs: ["get", "patch", "update"] }] : []),
    ...(r.kind === "Pod" ? [
      { name: "pods/portforward", singularName: "", namespaced: true, kind: "PodPortForwardOptions", verbs: ["create", "get"] },
      { name: "pods/log", singularName: "", namespaced: true, kind: "Pod", verbs: ["get"] },
    ] : []),
  ]);
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion: group ? `${group}/v1` : "v1", resources };
}

interface Route {
  group: string;
  version: string;
  resource: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  watch: boolean;
}

function parsePath(path: string): Route | undefined {
  const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))\/(.*)$/.exec(path);
  if (!m) return undefined;
  const group = m[2] ?? "";
  const version = m[1] ?? m[3]!;
  let segs = m[4]!.split("/").filter(Boolean).map(decodeURIComponent);
  // The deprecated /watch/ path prefix means ?watch=true.
  const watch = segs[0] === "watch";
  if (watch) segs = segs.slice(1);
  if (segs[0] === "namespaces" && segs.length >= 3 && !["status", "finalize"].includes(segs[2]!)) {
    const [, namespace, resource, name, subresource] = segs;
    return { group, version, resource: resource!, namespace, name, subresource, watch };
  }
  const [resource, name, subresource] = segs;
  return { group, version, resource: resource!, name, subresource, watch };
}

/**
 * The verbs a request is authorized for. Connect subresources take the verb from the HTTP method: a
 * WebSocket port-forward is a GET (`get`), SPDY a POST (`create`). From 1.35 the API server also
 * requires `create` for the WebSocket upgrade (AuthorizePodWebsocketUpgradeCreatePermission, beta
 * and on by default: kubernetes/kubernetes#134577).
 */
function verbsOf(method: string, route: Route, query: URLSearchParams, minor: number): string[] {
  if (route.subresource === "portforward") return method === "GET" ? (minor >= 35 ? ["get", "create"] : ["get"]) : ["create"];
  return [verbOf(method, route, query)];
}

function verbOf(method: string, route: Route, query: URLSearchParams): string {
  const watching = query.get("watch") === "true" || query.get("watch") === "1";
  switch (method) {
    case "GET": return watching ? "watch" : route.name ? "get" : "list";
    case "POST": return "create";
    case "PUT": return "update";
    case "PATCH": return "patch";
    case "DELETE": return route.name ? "delete" : "deletecollection";
    default: return method.toLowerCase();
  }
}

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const { certs, ctx, tokens } = opts;
  /** back-side source port → identity established by the TLS front */
  const byPort = new Map<number, Identity>();

  const authenticate = (req: Request, port: number | undefined, certWho?: Identity): Identity | undefined => {
    const auth = req.headers.get("authorization");
    if (auth?.startsWith("Bearer ")) {
      // A service-account token is valid while its ServiceAccount exists.
      const who = tokens.get(auth.slice(7).trim());
      const sa = who?.serviceAccount;
      if (!sa) return who;
      return ctx.store.get(resourceByKind("ServiceAccount"), sa.namespace, sa.name) ? who : undefined;
    }
    return certWho ?? (port === undefined ? undefined : byPort.get(port));
  };

  const handle = async (req: Request, server: Upgrader | undefined, who: Identity | undefined): Promise<Response | undefined> => {
    const url = new URL(req.url);
    if (!who) throw new ApiError(401, "Unauthorized", "Unauthorized");
    const doc = req.method === "GET" ? discovery(url.pathname, opts.minor) : undefined;
    if (doc) return json(doc);
    const route = parsePath(url.pathname);
    if (route?.watch) url.searchParams.set("watch", "true");
    const rt = route && findResource(route.group, route.version, route.resource);
    if (!route || !rt) throw new ApiError(404, "NotFound", "the server could not find the requested resource");
    if (route.namespace && !rt.namespaced) throw new ApiError(404, "NotFound", "the server could not find the requested resource");
    const sub = route.subresource;
    if (sub && !((sub === "status" && rt.status) || (rt.kind === "Pod" && ["portforward", "log"].includes(sub)))) {
      throw new ApiError(404, "NotFound", "the server could not find the requested resource");
    }
    if (rt.namespaced && !route.namespace && req.method !== "GET") throw new ApiError(404, "NotFound", "the server could not find the requested resource");
    const open = rt.kind === "SelfSubjectAccessReview";
    for (const verb of open ? [] : verbsOf(req.method, route, url.searchParams, opts.minor)) {
      const attrs: Attributes = { verb, group: rt.group, resource: rt.resource, subresource: sub, namespace: route.namespace, name: route.name };
      if (!ctx.authz.allowed(who, attrs)) {
        throw new ApiError(403, "Forbidden", forbiddenMessage(who, attrs), { ...(route.name ? { name: route.name } : {}), ...(rt.group ? { group: rt.group } : {}), kind: sub ? `${rt.resource}/${sub}` : rt.resource });
      }
    }
    if (sub === "portforward") return portForward(req, server, route);
    return handleRest(ctx, { req, rt, namespace: route.namespace, name: route.name, subresource: sub, query: url.searchParams, who });
  };

  const respond = async (req: Request, server: Upgrader | undefined, port: number | undefined, certWho?: Identity): Promise<Response | undefined> => {
    const who = authenticate(req, port, certWho);
    let res: Response | undefined;
    try {
      res = await handle(req, server, who);
    } catch (e) {
      if (!(e instanceof ApiError)) console.error("fake-kube: internal error", e);
      const err = e instanceof ApiError ? e : new ApiError(500, "InternalError", `Internal error occurred: ${(e as Error).message}`);
      res = json(err.toStatus(), err.code);
    }
    opts.requests.push({ method: req.method, path: new URL(req.url).pathname, user: who?.user ?? "", status: res?.status ?? 101 });
    return res;
  };

  const portForward = (req: Request, server: Upgrader | undefined, route: Route): Response | undefined => {
    const pod = ctx.store.get(resourceByKind("Pod"), route.namespace, route.name!);
    if (!pod) throw new ApiError(404, "NotFound", `pods "${route.name}" not found`, { name: route.name, kind: "pods" });
    if (!server || req.headers.get("upgrade")?.toLowerCase() !== "websocket") throw new ApiError(400, "BadRequest", "Upgrade request required");
    if (req.method !== "GET") throw new ApiError(400, "BadRequest", "SPDY port-forward is not served by fake-kube; use the WebSocket protocol");
    if (pod.status?.phase !== "Running" || !pod.status?.podIP) {
      throw new ApiError(400, "BadRequest", `pod ${route.name} is not running and cannot be port-forwarded (phase ${pod.status?.phase})`);
    }
    const url = new URL(req.url);
    const ports = url.searchParams.getAll("ports").flatMap((p) => p.split(",")).map((p) => Number(p.trim()));
    if (ports.length === 0 || ports.some((p) => !(Number.isInteger(p) && p > 0 && p < 65536))) throw new ApiError(400, "BadRequest", "query parameter \"ports\" is required and must hold valid port numbers");
    const offered = (req.headers.get("sec-websocket-protocol") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    const chosen = PORTFORWARD_PROTOCOLS.find((p) => offered.includes(p));
    if (offered.length > 0 && !chosen) throw new ApiError(400, "BadRequest", `unable to upgrade: no supported subprotocol among ${offered.join(", ")}`);
    const ns = route.namespace!;
    const uid = pod.metadata.uid;
    // localhost inside the pod, as containerd and CRI-O dial it; app pods stand for servers bound to every address
    const dial = (port: number) => {
      const net = ctx.scheduler.podNetwork(ns, pod.metadata.name);
      if (!net) return { error: `container not running in pod ${pod.metadata.name}` };
      if ("ip" in net) return { host: net.ip };
      if (listensOnPodLocalhost(net.pgid, port)) return { host: "127.0.0.1" };
      return { error: `failed to execute portforward in network namespace "/var/run/netns/cni-${uid}": failed to connect to localhost:${port} inside namespace "${uid}", IPv4: dial tcp4 127.0.0.1:${port}: connect: connection refused IPv6 dial tcp6 [::1]:${port}: connect: connection refused ` };
    };
    const data: PortForwardData = { kind: "portforward", podName: pod.metadata.name, podUid: uid, podIp: pod.status.podIP, ports, dial };
    const ok = server.upgrade(req, { data, headers: chosen ? { "Sec-WebSocket-Protocol": chosen } : {} });
    if (!ok) throw new ApiError(400, "BadRequest", "unable to upgrade connection");
    return undefined;
  };

  const forwards = new Set<RawWebSocket<PortForwardData>>();

  /** A WebSocket upgrade request read by the front: answered on the TLS socket itself. */
  const upgradeOnFront = async (client: tls.TLSSocket, head: Buffer, end: number, who: Identity | undefined) => {
    const [requestLine = "", ...lines] = head.subarray(0, end).toString("latin1").split("\r\n");
    const [method = "GET", target = "/"] = requestLine.split(" ");
    const headers = new Headers();
    for (const l of lines) {
      const i = l.indexOf(":");
      if (i > 0) headers.append(l.slice(0, i).trim(), l.slice(i + 1).trim());
    }
    const req = new Request(`http://127.0.0.1${target}`, { method, headers });
    let upgraded = false;
    const server: Upgrader = {
      upgrade: (_req, o) => {
        const key = headers.get("sec-websocket-key");
        if (!key) return false;
        const extra = Object.entries(o.headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
        client.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptKey(key)}\r\n${extra}\r\n`);
        const ws = new RawWebSocket(client, o.data);
        forwards.add(ws);
        ws.onDrain = () => portForwardDrain(ws);
        ws.start({ message: (m) => portForwardMessage(ws, m), close: () => (forwards.delete(ws), portForwardClose(ws)) }, head.subarray(end + 4));
        portForwardOpen(ws);
        client.resume();
        upgraded = true;
        return true;
      },
    };
    const res = await respond(req, server, undefined, who);
    if (upgraded) return;
    const r = res ?? new Response("unable to upgrade connection", { status: 400 });
    const body = Buffer.from(await r.arrayBuffer());
    let out = `HTTP/1.1 ${r.status} ${r.statusText || "Error"}\r\n`;
    r.headers.forEach((v, k) => {
      if (k !== "content-length" && k !== "connection") out += `${k}: ${v}\r\n`;
    });
    client.end(Buffer.concat([Buffer.from(`${out}content-length: ${body.length}\r\nconnection: close\r\n\r\n`, "latin1"), body]));
  };

  const restBack = http.createServer(async (nreq, nres) => {
    const chunks: Buffer[] = [];
    for await (const c of nreq) chunks.push(c as Buffer);
    const headers = new Headers();
    for (const [k, v] of Object.entries(nreq.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(", ") : v);
    const body = chunks.length && !["GET", "HEAD"].includes(nreq.method ?? "GET") ? Buffer.concat(chunks) : undefined;
    const req = new Request(`http://127.0.0.1${nreq.url}`, { method: nreq.method, headers, body });
    if (body) {
      try {
        opts.bodies.push({ method: nreq.method ?? "", path: new URL(req.url).pathname, body: JSON.parse(body.toString()) });
      } catch {
        /* not JSON: the REST layer answers 400 */
      }
    }
    const res = (await respond(req, undefined, nreq.socket.remotePort))!;
    const outHeaders: Record<string, string> = {};
    res.headers.forEach((v, k) => (outHeaders[k] = v));
    nres.writeHead(res.status, outHeaders);
    nres.flushHeaders();
    if (!res.body) return void nres.end();
    const reader = res.body.getReader();
    nres.on("close", () => void reader.cancel().catch(() => {}));
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true as const }));
      if (done) break;
      if (!nres.write(value)) await new Promise((r) => nres.once("drain", r));
    }
    nres.end();
  });
  restBack.keepAliveTimeout = 0;
  await new Promise<void>((resolve) => restBack.listen(0, "127.0.0.1", resolve));
  const restPort = (restBack.address() as net.AddressInfo).port;

  const sockets = new Set<net.Socket>();
  const front = tls.createServer({ cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert, requestCert: true, rejectUnauthorized: false }, (client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => {});
    const peer = client.authorized ? client.getPeerCertificate() : undefined;
    const cn = peer?.subject?.CN;
    const org = peer?.subject?.O;
    // Read up to the end of the first request's headers to pick the back end.
    let head = Buffer.alloc(0);
    const onData = (d: Buffer) => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0 && head.length < 64 * 1024) return;
      client.off("data", onData);
      client.pause();
      const upgrade = /^upgrade:\s*websocket\s*$/im.test(head.subarray(0, end < 0 ? head.length : end).toString("latin1"));
      if (upgrade && end >= 0) {
        client.setNoDelay(true);
        const who = cn ? { user: String(cn), groups: [...(org ? [org].flat().map(String) : []), "system:authenticated"] } : undefined;
        upgradeOnFront(client, head, end, who).catch(() => client.destroy());
      } else connectBack(restPort, head);
    };
    client.on("data", onData);
    const connectBack = (port: number, first: Buffer) => {
      client.setNoDelay(true);
      const backSide = net.connect({ host: "127.0.0.1", port, noDelay: true }, () => {
        const local = backSide.localPort!;
        if (cn) byPort.set(local, { user: String(cn), groups: [...(org ? [org].flat().map(String) : []), "system:authenticated"] });
        backSide.on("close", () => byPort.delete(local));
        backSide.write(first);
        client.pipe(backSide);
        backSide.pipe(client);
        client.resume();
      });
      sockets.add(backSide);
      backSide.on("close", () => { sockets.delete(backSide); client.destroy(); });
      backSide.on("error", () => client.destroy());
      client.on("close", () => backSide.destroy());
    };
  });
  await new Promise<void>((resolve) => front.listen(0, "127.0.0.1", resolve));
  const port = (front.address() as net.AddressInfo).port;
  return {
    port,
    url: `https://127.0.0.1:${port}`,
    dropPortForwards() {
      const all = [...forwards];
      for (const ws of all) ws.terminate();
      return all.length;
    },
    async stop() {
      ctx.watches.closeAll();
      front.close();
      for (const s of sockets) s.destroy();
      restBack.closeAllConnections();
      restBack.close();
      for (const ws of forwards) ws.terminate();
    },
  };
}
