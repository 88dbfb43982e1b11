import { afterAll, beforeAll, expect, setDefaultTimeout } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { criuAvailable, podmanAvailable } from "../../support/images.ts";
import { testWith } from "../../support/require.ts";
import { craftTar, editCheckpoint, editJson, openBundle, reseal, type CraftEntry } from "../../support/bundle-craft.ts";
import { counterAtLeast, makeEnv, type Env } from "./fixture.ts";

/**
 * Bundles a passphrase holder crafted (a teammate's laptop or the bucket compromised), attached on
 * real podman + CRIU as root. Each one authenticates — only devx's own checks stand between it and
 * this machine — and each must be refused before anything here changes: no host file written, no
 * container left, the project as it was. The last ones show what is allowed by name and how
 * labels and host paths are devx's own.
 */
setDefaultTimeout(300_000);
const full = testWith("criu", podmanAvailable() && criuAvailable());
let env: Env;
let relayDir: string;
let relay: string;
let pw: string;
let original: string;
let entries: CraftEntry[];
let hostTarget: string;
let before: Awaited<ReturnType<Env["snapshot"]>>;

beforeAll(async () => {
  if (!podmanAvailable() || !criuAvailable()) return;
  env = makeEnv("hb");
  env.start();
  await counterAtLeast(env, 3);
  relayDir = join(env.dir, "relay");
  relay = pathToFileURL(relayDir).href;
  const shared = await env.cli(["state", "share", "--relay", relay, "--json"]);
  if (shared.code !== 0) throw new Error(shared.err);
  const doc = JSON.parse(shared.out) as { id: string; object: string };
  pw = doc.id.split(":").pop()!;
  original = doc.object;
  entries = await openBundle(relayDir, doc.object, pw);
  hostTarget = join(env.dir, "host-target");
  mkdirSync(hostTarget);
  before = await env.snapshot();
});
afterAll(() => env?.wipe());

const archiveOf = (name: string) => Buffer.from(entries.find((e) => e.path === `containers/${name}.tar.zst`)!.body!);
const idOf = (object: string) => `${relay}/${object}:${pw}`;

/** attach must fail with `code` and `re`, and this machine must be exactly as before */
async function refused(object: string, code: number, re: RegExp, extra: string[] = []): Promise<string> {
  const r = await env.cli(["state", "attach", "-y", ...extra, idOf(object)]);
  expect(r.err).toMatch(re);
  expect(r.code).toBe(code);
  expect(await env.snapshot()).toEqual(before);
  expect(readdirSync(hostTarget)).toEqual([]);
  const rp = join(env.stateDir, "state", "restore-points");
  expect(existsSync(rp) ? readdirSync(rp) : []).toEqual([]);
  return r.err;
}

full("a volume tar that writes through its own symlink never reaches the host (full and --db-only)", async () => {
  const evil = craftTar([{ path: "d", type: "SymbolicLink", linkpath: hostTarget }, { path: "d/pwned", body: "root was here" }]);
  const object = await reseal(relayDir, pw, entries, { files: { [`volumes/${env.volume}.tar`]: evil } });
  await refused(object, 9, /passes through the symbolic link 'd'/);
  await refused(object, 9, /passes through the symbolic link 'd'/, ["--db-only"]);
});

full("a checkpoint whose filesystem changes write through a symlink never reaches the host", async () => {
  const archive = await editCheckpoint(archiveOf(env.app), (es) =>
    es.map((e) => (e.path === "rootfs-diff.tar" ? { ...e, body: craftTar([{ path: "t", type: "SymbolicLink", linkpath: hostTarget }, { path: "t/pwned", body: "x" }]) } : e)),
  );
  const object = await reseal(relayDir, pw, entries, { files: { [`containers/${env.app}.tar.zst`]: archive } });
  await refused(object, 9, /rootfs-diff.tar\): entry 't\/pwned' passes through the symbolic link 't'/);
});

full("files podman would delete outside the container are refused", async () => {
  const archive = await editCheckpoint(archiveOf(env.app), (es) => [...es, { path: "deleted.files", body: JSON.stringify(["/../../../../tmp"]) }]);
  const object = await reseal(relayDir, pw, entries, { files: { [`containers/${env.app}.tar.zst`]: archive } });
  await refused(object, 9, /climbs out with '\.\.'/);
});

full("a checkpoint asking for privileged mode, a host bind, extra capabilities and a public port is shown and refused without --allow", async () => {
  const archive = await editCheckpoint(archiveOf(env.app), (es) => {
    let out = editJson(es, "config.dump", (c) => {
      c.privileged = true;
      c.newPortMappings = [{ host_ip: "", container_port: 80, host_port: 18099, range: 1, protocol: "tcp" }];
    });
    out = editJson(out, "spec.dump", (s) => {
      s.process.capabilities.bounding.push("CAP_SYS_ADMIN");
      s.mounts.push({ destination: "/host", type: "bind", source: hostTarget, options: ["rbind", "rw"] });
    });
    return out;
  });
  const object = await reseal(relayDir, pw, entries, { files: { [`containers/${env.app}.tar.zst`]: archive } });
  const err = await refused(object, 6, /asks for what you did not allow/);
  expect(err).toMatch(new RegExp(`REFUSED +${env.app}: privileged mode \\(--allow privileged\\)`));
  expect(err).toContain(`${env.app}: ${hostTarget} at /host (--allow bind-mounts)`);
  expect(err).toMatch(/REFUSED +.*host-target at \/host /);
  expect(err).toContain("CAP_SYS_ADMIN (--allow capabilities)");
  expect(err).toContain("port 18099->80 on every interface of this machine (--allow public-ports)");
  expect(err).toContain("--allow privileged,public-ports,capabilities,bind-mounts");
  // --dry-run shows the same plan and the same refusal
  const dry = await env.cli(["state", "attach", "--dry-run", idOf(object)]);
  expect(dry.code).toBe(6);
  expect(dry.err).toContain("REFUSED");
  // allowing only some is not enough
  await refused(object, 6, /asks for what you did not allow: .*privileged mode/, ["--allow", "bind-mounts,capabilities,public-ports"]);
});

full("a checkpoint named otherwise than its manifest entry, or of another image, is refused before anything changes", async () => {
  const renamed = await editCheckpoint(archiveOf(env.app), (es) => editJson(es, "config.dump", (c) => (c.name = `${env.project}-intruder`)));
  await refused(await reseal(relayDir, pw, entries, { files: { [`containers/${env.app}.tar.zst`]: renamed } }), 9, /is of a container named .*-intruder/);
  expect(env.sh(["podman", "ps", "-a", "--format", "{{.Names}}"])).not.toContain("intruder");
  const otherImage = await editCheckpoint(archiveOf(env.app), (es) => editJson(es, "config.dump", (c) => (c.rootfsImageName = "docker.io/library/alpine:latest")));
  await refused(await reseal(relayDir, pw, entries, { files: { [`containers/${env.app}.tar.zst`]: otherImage } }), 9, /is of image docker.io\/library\/alpine:latest/);
});

full("OCI hooks and a joined host namespace are refused outright, whatever is allowed", async () => {
  const hooks = await editCheckpoint(archiveOf(env.app), (es) => editJson(es, "spec.dump", (s) => (s.hooks = { poststart: [{ path: "/bin/sh", args: ["sh", "-c", `touch ${hostTarget}/hook`] }] })));
  await refused(await reseal(relayDir, pw, entries, { files: { [`containers/${env.app}.tar.zst`]: hooks } }), 9, /OCI hooks/, ["--allow", "privileged,capabilities,bind-mounts,host-namespaces,devices,public-ports,networks,setuid"]);
});

full("the bundle does not choose the project: another project's bundle, and no project here, are refused", async () => {
  const other = await reseal(relayDir, pw, entries, { manifest: (m) => (m.project = `${env.project}-victim`) });
  await refused(other, 5, /is of project .*-victim, and this directory is project/);
  const noProject = mkdtempSync(join(process.env.DEVX_TEST_ROOT!, "no-project-"));
  // without devx.yaml the directory's name is the project (one rule for every command): no match
  const r = await env.cli(["state", "attach", "-y", idOf(original)], { cwd: noProject });
  expect(r.err).toMatch(/and this directory is project no-project-/);
  expect(r.code).toBe(5);
  expect(await env.snapshot()).toEqual(before);
});

full("a setuid file in a volume is refused unless allowed by name", async () => {
  const vol = craftTar([{ path: "known.txt", body: "hello devx\n" }, { path: "su", body: "elf", mode: 0o4755 }]);
  const object = await reseal(relayDir, pw, entries, { files: { [`volumes/${env.volume}.tar`]: vol } });
  await refused(object, 6, /volume .*-data: 1 setuid\/setgid file: su/);
});

full("allowed, restored: labels and names are devx's, host paths in the archive are dropped", async () => {
  const archive = await editCheckpoint(archiveOf(env.app), (es) =>
    editJson(es, "config.dump", (c) => {
      c.conmonPidFile = join(hostTarget, "conmon.pid");
      c.labels = { ...c.labels, "devx.project": `${env.project}-victim`, "io.containers.autoupdate": "registry" };
    }),
  );
  const object = await reseal(relayDir, pw, entries, {
    files: { [`containers/${env.app}.tar.zst`]: archive },
    manifest: (m) => {
      for (const v of m.volumes) v.labels = { ...v.labels, "devx.project": `${env.project}-victim`, evil: "1" };
    },
  });
  // a teammate's machine: the bundle's containers and volume are created here
  env.wipe();
  const r = await env.cli(["state", "attach", "-y", idOf(object)]);
  expect(r.err + `exit ${r.code}`).toEndWith("exit 0");
  expect(readdirSync(hostTarget)).toEqual([]);
  expect(env.counter()).toBeGreaterThan(0);
  const labels = JSON.parse(env.sh(["podman", "inspect", "--format", "{{json .Config.Labels}}", env.app])) as Record<string, string>;
  expect(labels).toEqual({ "devx.managed": "true", "devx.project": env.project, "devx.kind": "service" });
  const vlabels = JSON.parse(env.sh(["podman", "volume", "inspect", "--format", "{{json .Labels}}", env.volume])) as Record<string, string>;
  expect(vlabels["devx.project"]).toBe(env.project);
  expect(vlabels.evil).toBeUndefined();
  const undone = await env.cli(["state", "undo", "-y"]);
  expect(undone.code).toBe(0);
  expect(await env.snapshot()).toEqual({ containers: [], volumes: {} });
});
