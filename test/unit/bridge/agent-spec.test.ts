import { describe, expect, test } from "bun:test";
import YAML from "yaml";
import { agentObjects, agentPorts, connectNeeds, interceptNeeds, rbacYaml } from "../../../src/core/bridge/agent-spec.ts";
import { hostPortMap } from "../../../src/core/bridge/intercept.ts";

const svc = {
  metadata: { name: "web", namespace: "shop" },
  spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: "http" }, { name: "metrics", port: 9100, targetPort: 9100 }, { port: 7000 }] },
} as never;

describe("agent objects", () => {
  const ports = agentPorts(svc, { http: 8080 });
  const o = agentObjects({ session: "ab12cd34", namespace: "shop", service: "web", project: "demo", image: "localhost/devx-agent:1", ports, graceMs: 2000, mirror: false });
  const pod = o.job.spec!.template.spec!;
  const c = pod.containers[0]!;

  test("listens where the Service sends traffic, with named ports preserved", () => {
    expect(ports.map((p) => [p.name, p.listenPort, p.containerPortName])).toEqual([["http", 8080, "http"], ["metrics", 9100, "metrics"], ["7000", 7000, undefined]]);
    expect(c.ports).toContainEqual({ name: "http", containerPort: 8080, protocol: "TCP" });
    expect(c.args).toEqual(["agent", "--namespace", "shop", "--service", "web", "--session", "ab12cd34", "--control-port", "4000", "--grace", "2000ms", "--ports", "http:8080,metrics:9100,7000:7000"]);
  });

  test("runs unprivileged and bounded: non-root, no capabilities, read-only root, deadline and TTL, probe on the control port", () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(o.job.spec!.activeDeadlineSeconds).toBeGreaterThan(0);
    expect(o.job.spec!.ttlSecondsAfterFinished).toBeGreaterThan(0);
    expect(c.readinessProbe?.tcpSocket?.port).toBe(4000);
    expect(c.env).toContainEqual({ name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } });
    for (const obj of [o.job, o.serviceAccount, o.role, o.roleBinding]) expect(obj.metadata!.labels).toMatchObject({ "devx.managed": "true", "devx.kind": "agent", "devx.session": "ab12cd34" });
  });

  test("the agent's Role may only get/patch its one Service and delete its own ServiceAccount (plus read pods in mirror mode)", () => {
    expect(o.role.rules).toEqual([
      { apiGroups: [""], resources: ["services"], resourceNames: ["web"], verbs: ["get", "patch"] },
      { apiGroups: [""], resources: ["serviceaccounts"], resourceNames: [o.serviceAccount.metadata!.name!], verbs: ["delete"] },
    ]);
    const m = agentObjects({ session: "x", namespace: "shop", service: "web", project: "demo", image: "i", ports, graceMs: 1, mirror: true });
    expect(m.role.rules?.[2]).toEqual({ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] });
  });

  test("a targetPort below 1024 gets the unprivileged-port sysctl instead of a capability", () => {
    const low = agentObjects({ session: "x", namespace: "shop", service: "web", project: "demo", image: "i", ports: agentPorts({ spec: { ports: [{ port: 80, targetPort: 80 }] } } as never), graceMs: 1, mirror: false });
    expect(low.job.spec!.template.spec!.securityContext!.sysctls).toEqual([{ name: "net.ipv4.ip_unprivileged_port_start", value: "0" }]);
  });
});

describe("RBAC", () => {
  test("`devx bridge rbac` grants every verb connect and intercept check for", () => {
    const [role] = YAML.parseAllDocuments(rbacYaml("shop", { kind: "User", name: "alice" })).map((d) => d.toJS());
    for (const n of [...interceptNeeds("web", true), ...connectNeeds()]) {
      const res = n.subresource ? `${n.resource}/${n.subresource}` : n.resource;
      expect(role.rules.some((r: { apiGroups: string[]; resources: string[]; verbs: string[] }) => r.apiGroups.includes(n.group) && r.resources.includes(res) && r.verbs.includes(n.verb))).toBe(true);
    }
  });
});

describe("--port remote[:local]", () => {
  const ports = agentPorts(svc, { http: 8080 });
  test("by name or number; unmapped ports keep the Service port number", () => {
    expect(hostPortMap(ports, ["http:3000", "9100:19100"])).toEqual({ http: 3000, metrics: 19100, "7000": 7000 });
    expect(() => hostPortMap(ports, ["grpc:1"])).toThrow(/no port "grpc"/);
  });
});
