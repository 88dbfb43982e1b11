import { describe, expect, test } from "bun:test";
import { jsonPatch, mergePatch, PatchError, strategicMerge } from "../../support/fake-kube/patch.ts";
import { parseLabelSelector, SelectorError } from "../../support/fake-kube/selectors.ts";

/** The fake's patch and selector semantics, case by case against what upstream does. */

const svc = () => ({
  metadata: { name: "web", labels: { app: "web" } },
  spec: {
    selector: { app: "web", tier: "front" },
    ports: [{ name: "http", port: 80, targetPort: 8080 }, { name: "admin", port: 81, targetPort: 9090 }],
  },
});

describe("JSON patch (RFC 6902)", () => {
  test("add/replace/remove/move/copy and '-' appends", () => {
    const out = jsonPatch(svc(), [
      { op: "add", path: "/metadata/annotations", value: { "devx.io/intercept": "{}" } },
      { op: "replace", path: "/spec/selector", value: { "devx.session": "s1" } },
      { op: "add", path: "/spec/ports/-", value: { name: "grpc", port: 82 } },
      { op: "remove", path: "/spec/ports/1" },
      { op: "copy", from: "/metadata/labels/app", path: "/metadata/labels/copy" },
      { op: "move", from: "/metadata/labels/copy", path: "/metadata/labels/moved" },
    ]);
    expect(out.metadata).toEqual({ name: "web", labels: { app: "web", moved: "web" }, annotations: { "devx.io/intercept": "{}" } });
    expect(out.spec.selector).toEqual({ "devx.session": "s1" });
    expect(out.spec.ports.map((p: any) => p.name)).toEqual(["http", "grpc"]);
  });

  test("keys with / and ~ are escaped; a missing path or a failed test is an error; the input is untouched", () => {
    const input = { metadata: { annotations: { "devx.io/intercept": "x", "a~b": "y" } } };
    const out = jsonPatch(input, [{ op: "remove", path: "/metadata/annotations/devx.io~1intercept" }, { op: "replace", path: "/metadata/annotations/a~0b", value: "z" }]);
    expect(out.metadata.annotations).toEqual({ "a~b": "z" });
    expect(input.metadata.annotations["devx.io/intercept"]).toBe("x");
    expect(() => jsonPatch(svc(), [{ op: "remove", path: "/spec/nothing" }])).toThrow(PatchError);
    expect(() => jsonPatch(svc(), [{ op: "replace", path: "/spec/ports/5", value: {} }])).toThrow(PatchError);
    expect(() => jsonPatch(svc(), [{ op: "test", path: "/spec/selector", value: { tier: "front", app: "web" } }])).not.toThrow();
    expect(() => jsonPatch(svc(), [{ op: "test", path: "/spec/selector/app", value: "api" }])).toThrow(PatchError);
  });
});

describe("JSON merge patch (RFC 7386)", () => {
  test("maps merge, null deletes, lists are replaced whole", () => {
    const out = mergePatch(svc(), { spec: { selector: { tier: null, role: "agent" }, ports: [{ name: "only", port: 1 }] } });
    expect(out.spec.selector).toEqual({ app: "web", role: "agent" });
    expect(out.spec.ports).toEqual([{ name: "only", port: 1 }]);
  });
});

describe("strategic merge patch", () => {
  test("selector maps merge (the classic intercept trap); $patch: replace swaps the whole map", () => {
    expect(strategicMerge(svc(), { spec: { selector: { role: "agent" } } }).spec.selector).toEqual({ app: "web", tier: "front", role: "agent" });
    expect(strategicMerge(svc(), { spec: { selector: { $patch: "replace", role: "agent" } } }).spec.selector).toEqual({ role: "agent" });
  });

  test("Service ports merge by port; $patch: delete removes one; containers merge by name; env by name", () => {
    const out = strategicMerge(svc(), { spec: { ports: [{ port: 81, targetPort: 4001 }, { port: 80, $patch: "delete" }] } });
    expect(out.spec.ports).toEqual([{ name: "admin", port: 81, targetPort: 4001 }]);
    const pod = { spec: { containers: [{ name: "a", image: "a:1", env: [{ name: "X", value: "1" }], ports: [{ containerPort: 80 }] }, { name: "b", image: "b:1" }] } };
    const p = strategicMerge(pod, { spec: { containers: [{ name: "a", image: "a:2", env: [{ name: "Y", value: "2" }] }] } });
    expect(p.spec.containers).toEqual([
      { name: "a", image: "a:2", env: [{ name: "X", value: "1" }, { name: "Y", value: "2" }], ports: [{ containerPort: 80 }] },
      { name: "b", image: "b:1" },
    ]);
  });

  test("lists without a merge key are replaced; $deleteFromPrimitiveList removes values", () => {
    const o = { metadata: { finalizers: ["a", "b", "c"] }, spec: { args: ["x"] } };
    expect(strategicMerge(o, { spec: { args: ["y"] } }).spec.args).toEqual(["y"]);
    expect(strategicMerge(o, { metadata: { "$deleteFromPrimitiveList/finalizers": ["b"] } }).metadata.finalizers).toEqual(["a", "c"]);
  });
});

describe("label selectors", () => {
  test("grammar errors are reported (the API answers 400)", () => {
    expect(() => parseLabelSelector("a in (x")).toThrow(SelectorError);
    expect(() => parseLabelSelector("bad key=1")).toThrow(SelectorError);
    expect(parseLabelSelector("devx.managed=true,devx.session")({ "devx.managed": "true", "devx.session": "x" })).toBe(true);
    expect(parseLabelSelector("devx.managed=true,!devx.session")({ "devx.managed": "true", "devx.session": "x" })).toBe(false);
  });
});
