import { describe, expect, test } from "bun:test";
import YAML from "yaml";
import { Job } from "kubernetes-models/batch/v1/Job";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { Role } from "kubernetes-models/rbac.authorization.k8s.io/v1/Role";
import { RoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding";
import { Secret } from "kubernetes-models/v1/Secret";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { agentListeners, agentObjects, agentPorts, internalPorts, withSecret } from "../../../src/core/bridge/agent-spec.ts";
import { cleanupNeeds, connectNeeds, interceptNeeds, rbacYaml } from "../../../src/core/bridge/rbac.ts";
import { hostPortMap } from "../../../src/core/bridge/intercept.ts";
import { labelValue } from "../../../src/core/labels.ts";
import { UsageError } from "../../../src/errors.ts";

const svc = {
  metadata: { name: "web", namespace: "shop" },
  spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: "http" }, { name: "metrics", port: 9100, targetPort: 9100 }, { port: 7000 }] },
} as never;
const internal = { control: 23456, health: 12345 };
const input = (over: Record<string, unknown> = {}) => ({ session: "ab12cd34", namespace: "shop", service: "web", project: "demo", image: "localhost/devx-agent:1", ports: agentPorts(svc, { http: 8080 }), internal, graceMs: 2000, mirror: false, ...over });

describe("agent objects", () => {
  const ports = agentPorts(svc, { http: 8080 });
  const o = agentObjects(input());
  const pod = o.job.spec!.template.spec!;
  const c = pod.containers[0]!;

  test("listens where the Service sends traffic, with named ports preserved; runs as `devx bridge-agent`", () => {
    expect(ports.map((p) => [p.name, p.listenPort, p.containerPortName])).toEqual([["http", 8080, "http"], ["metrics", 9100, undefined], ["7000", 7000, undefined]]);
    expect(c.ports).toContainEqual({ name: "http", containerPort: 8080, protocol: "TCP" });
    expect(c.args).toEqual(["bridge-agent", "--namespace", "shop", "--service", "web", "--session", "ab12cd34", "--control-port", "23456", "--health-port", "12345", "--grace", "2000ms", "--ports", "http:8080,metrics:9100,7000:7000"]);
  });

  test("the tunnel secret reaches the agent through its Secret, never through args, labels or annotations", () => {
    const token = "s3cr3t-token-value";
    const secret = withSecret(o.secret, token);
    expect(Buffer.from(secret.data!.token!, "base64").toString()).toBe(token);
    expect(c.env).toContainEqual({ name: "DEVX_AGENT_SECRET", valueFrom: { secretKeyRef: { name: "devx-agent-ab12cd34", key: "token" } } });
    const visible = JSON.stringify({ ...o, secret: { ...o.secret, data: undefined } });
    expect(visible).not.toContain(token);
    expect(o.secret.immutable).toBe(true);
  });

  test("runs unprivileged and bounded: non-root, no capabilities, read-only root, token mounted, deadline and TTL, probe on the health port", () => {
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532 });
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, privileged: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } });
    expect(o.job.spec!.activeDeadlineSeconds).toBeGreaterThan(0);
    expect(o.job.spec!.ttlSecondsAfterFinished).toBeGreaterThan(0);
    expect(c.readinessProbe?.tcpSocket?.port).toBe(12345);
    // the control port is on 127.0.0.1: not a container port, not open in the NetworkPolicy
    expect(c.ports!.map((p) => p.containerPort)).not.toContain(23456);
    expect(o.networkPolicy.spec!.ingress?.[0]?.ports?.map((p) => p.port)).toEqual([8080, 9100, 7000, 12345]);
    expect(o.networkPolicy.spec?.podSelector?.matchLabels).toEqual({ "devx.kind": "agent", "devx.session": "ab12cd34" });
    for (const obj of [o.job, o.serviceAccount, o.secret, o.role, o.roleBinding, o.networkPolicy]) expect(obj.metadata!.labels).toMatchObject({ "devx.managed": "true", "devx.kind": "agent", "devx.session": "ab12cd34" });
  });

  test("every object is valid against the official Kubernetes schemas", () => {
    const long = agentObjects(input({ project: `${"very-long-project-name-".repeat(4)}with odd/chars & spaces`, mirror: true }));
    for (const x of [o, long]) {
      new ServiceAccount(x.serviceAccount as never).validate();
      new Secret(withSecret(x.secret, "t") as never).validate();
      new Role(x.role as never).validate();
      new RoleBinding(x.roleBinding as never).validate();
      new NetworkPolicy(x.networkPolicy as never).validate();
      new Job(x.job as never).validate();
    }
    expect(long.job.metadata!.labels!["devx.project"]!.length).toBeLessThanOrEqual(63);
  });

  test("the agent's Role may only get/patch its one Service and delete its own ServiceAccount (plus read pods in mirror mode)", () => {
    expect(o.role.rules).toEqual([
      { apiGroups: [""], resources: ["services"], resourceNames: ["web"], verbs: ["get", "patch"] },
      { apiGroups: [""], resources: ["serviceaccounts"], resourceNames: [o.serviceAccount.metadata!.name!], verbs: ["delete"] },
    ]);
    const m = agentObjects(input({ mirror: true }));
    expect(m.role.rules?.[2]).toEqual({ apiGroups: [""], resources: ["pods"], verbs: ["get", "list"] });
  });

  test("a targetPort below 1024 gets the unprivileged-port sysctl instead of a capability", () => {
    const low = agentObjects(input({ ports: agentPorts({ spec: { ports: [{ port: 80, targetPort: 80 }] } } as never) }));
    expect(low.job.spec!.template.spec!.securityContext!.sysctls).toEqual([{ name: "net.ipv4.ip_unprivileged_port_start", value: "0" }]);
  });
});

describe("ports the agent uses for itself", () => {
  test("never one the Service listens on, even a Service built to hit them", () => {
    const taken = agentPorts({ spec: { ports: Array.from({ length: 50 }, (_, i) => ({ name: `p${i}`, port: 10000 + i, targetPort: 10000 + i })) } } as never);
    // a random source that first offers exactly the Service's ports, then walks on
    let n = 0;
    const rnd = () => (n++ + 0.5) / 22768;
    const p = internalPorts(taken, rnd);
    expect(taken.map((x) => x.listenPort)).not.toContain(p.control);
    expect(taken.map((x) => x.listenPort)).not.toContain(p.health);
    expect(p.control).not.toBe(p.health);
    for (const port of [p.control, p.health]) expect(port >= 10000 && port < 32768).toBe(true);
  });

  test("a Service targetPort 4000 (the old fixed control port) is served like any other", () => {
    const ports = agentPorts({ spec: { ports: [{ name: "http", port: 80, targetPort: 4000 }] } } as never);
    expect(ports[0]!.listenPort).toBe(4000);
    expect(internalPorts(ports).control).not.toBe(4000);
  });

  test("two Service ports sharing a targetPort share one listener and one host port", () => {
    const ports = agentPorts({ spec: { ports: [{ name: "http", port: 80, targetPort: 8080 }, { name: "alt", port: 8080, targetPort: 8080 }, { name: "web", port: 81, targetPort: "web" }, { name: "web2", port: 82, targetPort: "web" }] } } as never, { web: 9000 });
    expect(agentListeners(ports).map((p) => [p.stream, p.listenPort])).toEqual([["http", 8080], ["web", 9000]]);
    const o = agentObjects(input({ ports }));
    expect(o.job.spec!.template.spec!.containers[0]!.ports!.map((p) => p.containerPort)).toEqual([8080, 9000, 12345]);
    expect(hostPortMap(ports, ["alt:3000"])).toEqual({ http: 3000, web: 81 });
    const err = (() => {
      try {
        hostPortMap(ports, ["http:3000", "alt:3001"]);
      } catch (e) {
        return e as UsageError;
      }
    })();
    expect(err).toBeInstanceOf(UsageError);
    expect(err!.hint).toContain("share targetPort 8080");
  });
});

describe("labels", () => {
  test("any project name becomes a valid, stable label value; distinct names stay distinct", () => {
    const valid = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
    for (const name of ["demo", "x".repeat(63), "x".repeat(64), "a".repeat(200), "My Project (v2)!", "---", "über-app", "-lead", "trail_."]) {
      const v = labelValue(name);
      expect(v.length).toBeLessThanOrEqual(63);
      expect(v).toMatch(valid);
      expect(labelValue(name)).toBe(v);
    }
    expect(labelValue("demo")).toBe("demo");
    expect(labelValue("x".repeat(63))).toBe("x".repeat(63));
    expect(labelValue("a".repeat(70))).not.toBe(labelValue("a".repeat(71)));
  });
});

describe("RBAC", () => {
  const [role] = YAML.parseAllDocuments(rbacYaml("shop", { kind: "User", name: "alice" })).map((d) => d.toJS());
  const grants = (n: { group: string; resource: string; subresource?: string; verb: string }) => {
    const res = n.subresource ? `${n.resource}/${n.subresource}` : n.resource;
    return role.rules.some((r: { apiGroups: string[]; resources: string[]; verbs: string[] }) => r.apiGroups.includes(n.group) && r.resources.includes(res) && r.verbs.includes(n.verb));
  };

  test("`devx bridge rbac` grants every verb connect, intercept and cleanup check for", () => {
    for (const n of [...interceptNeeds("web"), ...connectNeeds(), ...cleanupNeeds()]) expect(grants(n)).toBe(true);
  });

  test("port-forward: get (WebSocket before 1.35) and create (1.35+, SPDY) are both granted and both checked", () => {
    for (const verb of ["get", "create"]) {
      expect(grants({ verb, group: "", resource: "pods", subresource: "portforward" })).toBe(true);
      for (const needs of [interceptNeeds("web"), connectNeeds()]) expect(needs.some((n) => n.verb === verb && n.subresource === "portforward")).toBe(true);
    }
  });

  test("the Role is valid against the official schema", () => {
    new Role(role).validate();
  });
});
