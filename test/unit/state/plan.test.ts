import { expect, test } from "bun:test";
import type { ContainerInfo, ContainerRuntime, VolumeInfo } from "../../../providers/runtime/types.ts";
import { listWorld, planApply } from "../../../src/core/state/apply.ts";
import type { StateDeps } from "../../../src/core/state/state-deps.ts";
import type { Manifest } from "../../../src/core/state/manifest.ts";
import { ConflictError, ProviderError } from "../../../src/errors.ts";

/** A runtime that answers the read-only calls planning makes and fails on anything else. */
function readOnlyRuntime(containers: ContainerInfo[], volumes: VolumeInfo[], images: string[]): ContainerRuntime {
  const matches = (labels: Record<string, string>, want?: Record<string, string>) => Object.entries(want ?? {}).every(([k, v]) => labels[k] === v);
  const base = {
    displayName: "podman",
    listContainers: async (f: { labels?: Record<string, string>; all?: boolean } = {}) => containers.filter((c) => (f.all || c.state === "running") && matches(c.labels, f.labels)),
    listVolumes: async (f: { labels?: Record<string, string> } = {}) => volumes.filter((v) => matches(v.labels, f.labels)),
    inspectContainer: async (n: string) => containers.find((c) => c.name === n),
    imageExists: async (i: string) => images.includes(i),
  };
  return new Proxy(base, {
    get: (t, k) => (k in t ? (t as Record<string | symbol, unknown>)[k] : k === "checkpointer" ? undefined : () => Promise.reject(new Error(`planning must not call ${String(k)}`))),
  }) as unknown as ContainerRuntime;
}

const H = "b".repeat(64);
const managed = (project: string, kind = "service") => ({ "devx.managed": "true", "devx.project": project, "devx.kind": kind });
const ctr = (name: string, state: string, labels: Record<string, string>, volumes: string[] = [], image = "img:1"): ContainerInfo => ({ id: name, name, image, state, labels, ports: [], volumes: volumes.map((v) => ({ name: v, destination: `/${v}` })) });
const bundle: Manifest = {
  formatVersion: 1, kind: "share", name: "x", created: "", mode: "full", host: { os: "linux", arch: "x64" }, runtime: { name: "podman", version: "4" }, project: "shop",
  containers: [{ name: "shop-api", image: "img:1", labels: managed("shop"), ports: [], volumes: [{ name: "shop-data", destination: "/d" }], archive: { file: "containers/shop-api.tar.zst", size: 1, sha256: H } }],
  volumes: [{ name: "shop-data", labels: managed("shop", "database"), file: "volumes/shop-data.tar", size: 1, sha256: H, contentDigest: H }],
};
const sd = (rt: ContainerRuntime): StateDeps => ({ runtime: rt, stateDir: "/nonexistent", emit: () => {}, now: () => new Date(), project: "shop", openRelay: () => Promise.reject(new Error("no relay")) });

test("full plan: replaces the project's running containers, pauses other users of the volumes, leaves other projects alone", async () => {
  const rt = readOnlyRuntime(
    [ctr("shop-api", "running", managed("shop")), ctr("shop-worker", "running", managed("shop")), ctr("other-db", "running", managed("other")), ctr("adminer", "running", {}, ["shop-data"], "adminer:4")],
    [{ name: "shop-data", labels: managed("shop", "database") }],
    ["img:1"],
  );
  const plan = await planApply(sd(rt), "shop", bundle, { strict: true });
  expect(plan.replace.map((c) => c.name)).toEqual(["shop-api", "shop-worker"]);
  expect(plan.pause.map((c) => c.name)).toEqual(["adminer"]);
  expect(plan.volumes).toEqual([{ name: "shop-data", exists: true, bytes: 1, emptyWith: "adminer:4" }]);
  expect(plan.restore.map((c) => c.name)).toEqual(["shop-api"]);
  expect(plan.start).toEqual(["adminer"]);
});

test("strict planning refuses, before any change, a stopped container in the way and a missing image", async () => {
  const stopped = readOnlyRuntime([ctr("shop-api", "exited", managed("shop"))], [], ["img:1"]);
  await expect(planApply(sd(stopped), "shop", bundle, { strict: true })).rejects.toThrow(ConflictError);
  const noImage = readOnlyRuntime([], [], []);
  const err = await planApply(sd(noImage), "shop", bundle, { strict: true }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ProviderError);
  expect((err as ProviderError).hint).toContain("--db-only");
  // a rollback (not strict) removes what is in the way: it is what the failed apply created
  expect((await planApply(sd(stopped), "shop", bundle, { strict: false })).replace.map((c) => c.name)).toEqual(["shop-api"]);
});

test("an image a container here was created from is not looked up again; any other is", async () => {
  const looked: string[] = [];
  const counting = (containers: ContainerInfo[]) => {
    const rt = readOnlyRuntime(containers, [], ["img:1"]);
    return new Proxy(rt, { get: (t, k) => (k === "imageExists" ? (i: string) => (looked.push(i), (t as ContainerRuntime).imageExists(i)) : (t as never)[k]) });
  };
  await planApply(sd(counting([ctr("shop-api", "running", managed("shop"))])), "shop", bundle, { strict: true });
  expect(looked).toEqual([]);
  await planApply(sd(counting([ctr("other", "running", managed("other"), [], "other:2")])), "shop", bundle, { strict: true });
  expect(looked).toEqual(["img:1"]);
});

test("the listing for a snapshot without volumes does not list volumes; with volumes it does", async () => {
  const calls: string[] = [];
  const rt = readOnlyRuntime([ctr("shop-api", "running", managed("shop"))], [{ name: "shop-data", labels: managed("shop", "database") }], ["img:1"]);
  const counting = new Proxy(rt, { get: (t, k) => (typeof k === "string" && k.startsWith("list") ? (...a: unknown[]) => (calls.push(k), (t as never as Record<string, (...x: unknown[]) => unknown>)[k]!(...a)) : (t as never)[k]) });
  const noVolumes: Manifest = { ...bundle, volumes: [], containers: bundle.containers.map((c) => ({ ...c, volumes: [] })) };
  const world = await listWorld(sd(counting), { for: noVolumes });
  expect(calls).toEqual(["listContainers"]);
  expect(world.volumes).toEqual([]);
  expect((await planApply(sd(counting), "shop", noVolumes, { strict: true, world: Promise.resolve(world) })).volumes).toEqual([]);
  calls.length = 0;
  expect((await listWorld(sd(counting), { for: bundle })).volumes.map((v) => v.name)).toEqual(["shop-data"]);
  expect(calls.sort()).toEqual(["listContainers", "listVolumes"]);
});

test("a listing taken alongside the CRIU probe is planned from as is", async () => {
  const listed = readOnlyRuntime([ctr("shop-api", "running", managed("shop"))], [{ name: "shop-data", labels: managed("shop", "database") }], ["img:1"]);
  const world = listWorld(sd(listed));
  let listings = 0;
  const rt = new Proxy(listed, { get: (t, k) => (k === "listContainers" || k === "listVolumes" ? () => (listings++, Promise.reject(new Error("listed again"))) : (t as never)[k]) });
  const plan = await planApply(sd(rt), "shop", bundle, { strict: true, world });
  expect(listings).toBe(0);
  expect(plan.replace.map((c) => c.name)).toEqual(["shop-api"]);
  expect(plan.volumes).toEqual([{ name: "shop-data", exists: true, bytes: 1, emptyWith: undefined }]);
  // without a listing, planning lists for itself
  await expect(planApply(sd(rt), "shop", bundle, { strict: true })).rejects.toThrow("listed again");
});

test("strict planning refuses a container or volume of the same name that is not this project's", async () => {
  const foreignCtr = readOnlyRuntime([ctr("shop-api", "running", managed("other"))], [], ["img:1"]);
  const e1 = await planApply(sd(foreignCtr), "shop", bundle, { strict: true }).catch((e: unknown) => e);
  expect(e1).toBeInstanceOf(ConflictError);
  expect((e1 as Error).message).toContain("container shop-api exists here and is not one of project shop's devx containers");
  const unmanagedVolume = readOnlyRuntime([], [{ name: "shop-data", labels: {} }], ["img:1"]);
  const e2 = await planApply(sd(unmanagedVolume), "shop", bundle, { strict: true }).catch((e: unknown) => e);
  expect(e2).toBeInstanceOf(ConflictError);
  expect((e2 as Error).message).toContain("volume shop-data exists here and is not one of project shop's devx volumes");
  const otherProjectVolume = readOnlyRuntime([], [{ name: "shop-data", labels: managed("other", "database") }], ["img:1"]);
  await expect(planApply(sd(otherProjectVolume), "shop", bundle, { strict: true })).rejects.toThrow(ConflictError);
  // the project comes from here, never from the bundle: a bundle naming another project replaces nothing of it
  const elsewhere = readOnlyRuntime([ctr("other-web", "running", managed("other"))], [], ["img:1"]);
  const plan = await planApply(sd(elsewhere), "shop", { ...bundle, project: "other" }, { strict: true });
  expect(plan.replace).toEqual([]);
});
