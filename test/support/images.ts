import { mkdtempSync, mkdirSync, rmSync, writeFileSync, symlinkSync, copyFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Offline test images (no registry is reachable). Built once per machine and cached by tag:
 * tests never rebuild an image that exists.
 */
export const BUSYBOX_IMAGE = "localhost/devx-test-busybox:1";

export function podmanAvailable(): boolean {
  if (!Bun.which("podman")) return false;
  const r = Bun.spawnSync(["podman", "info", "--format", "{{.Host.OCIRuntime.Name}}"], { stdout: "pipe", stderr: "pipe" });
  return r.exitCode === 0;
}

export function criuAvailable(): boolean {
  if (!Bun.which("criu")) return false;
  return Bun.spawnSync(["criu", "check"], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}

function imageExists(tag: string): boolean {
  return Bun.spawnSync(["podman", "image", "exists", tag]).exitCode === 0;
}

/** A 2 MB image from busybox-static: sh, httpd, nc, sleep… (CMD /bin/sh). */
export function ensureBusyboxImage(tag = BUSYBOX_IMAGE): string {
  if (imageExists(tag)) return tag;
  const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((p) => existsSync(p));
  if (!busybox) throw new Error("busybox-static is not installed (run scripts/setup-containers.sh)");
  const root = mkdtempSync(join(tmpdir(), "devx-img-"));
  try {
    for (const d of ["bin", "etc", "tmp", "www", "proc", "sys", "dev", "data"]) mkdirSync(join(root, d), { recursive: true });
    copyFileSync(busybox, join(root, "bin", "busybox"));
    const list = Bun.spawnSync([busybox, "--list"], { stdout: "pipe" }).stdout.toString().split("\n").filter(Boolean);
    for (const a of list) if (a !== "busybox") symlinkSync("busybox", join(root, "bin", a));
    writeFileSync(join(root, "etc", "passwd"), "root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n");
    writeFileSync(join(root, "etc", "group"), "root:x:0:\nnobody:x:65534:\n");
    const tar = Bun.spawnSync(["tar", "-C", root, "-c", "."], { stdout: "pipe" });
    const imp = Bun.spawnSync(["podman", "import", "-q", "--change", 'CMD ["/bin/sh"]', "--change", "ENV PATH=/bin", "-", tag], { stdin: tar.stdout, stdout: "pipe", stderr: "pipe" });
    if (imp.exitCode !== 0) throw new Error(`podman import failed: ${imp.stderr.toString()}`);
    return tag;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
