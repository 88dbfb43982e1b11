import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { closeSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Files } from "../../../src/runner/files.ts";
import { Workspace, WorkspaceError } from "../../../src/runner/workspace.ts";

/**
 * Confinement with the race made deterministic: a symlink to the outside is swapped in exactly
 * between the runner's look at a path component and its use of it.
 */
let root: string;
let outside: string;
beforeEach(() => {
  root = realpathSync(mkdtempSync(join(tmpdir(), "devx-ws-")));
  outside = realpathSync(mkdtempSync(join(tmpdir(), "devx-out-")));
  writeFileSync(join(outside, "secret.txt"), "OUTSIDE");
  mkdirSync(join(root, "dir"));
  writeFileSync(join(root, "dir/secret.txt"), "inside");
  symlinkSync(outside, join(root, "evil"));
  symlinkSync(join(outside, "secret.txt"), join(root, "evil-file"));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

/** Swap `name` for the symlink `evil` (keeping the real thing aside) when the walk has just checked it. */
const swapWhenChecked = (name: string, evil: string) => (component: string) => {
  if (component !== name) return;
  renameSync(join(root, name), join(root, `${name}.aside`));
  renameSync(join(root, evil), join(root, name));
};

const code = (f: () => unknown) => {
  try {
    f();
    return "allowed";
  } catch (e) {
    if (e instanceof WorkspaceError) return e.code;
    throw e;
  }
};

describe("Workspace confinement", () => {
  test("refuses .., absolute paths and NUL before touching the disk", () => {
    const ws = new Workspace(root);
    for (const p of ["..", "../x", "a/../b", "/etc/passwd", "a\0b"]) expect(code(() => ws.resolve(p, true).close())).toBe("escape");
    expect(Workspace.components("./a//b/./c/")).toEqual(["a", "b", "c"]);
  });

  test("a directory swapped for a symlink after its check is not followed", () => {
    const ws = new Workspace(root, swapWhenChecked("dir", "evil"));
    const files = new Files(ws);
    // the check saw a directory; the open finds a symlink and refuses instead of following it
    expect(code(() => files.openRead("dir/secret.txt"))).not.toBe("allowed");
    expect(readdirSync(outside)).toEqual(["secret.txt"]);
  });

  test("a directory swapped for a symlink cannot receive a write", () => {
    const ws = new Workspace(root, swapWhenChecked("dir", "evil"));
    const files = new Files(ws);
    expect(code(() => files.beginWrite("dir/planted.txt"))).not.toBe("allowed");
    expect(readdirSync(outside)).toEqual(["secret.txt"]);
  });

  test("a file swapped for a symlink after its check is not opened", () => {
    writeFileSync(join(root, "plain.txt"), "plain");
    const ws = new Workspace(root, swapWhenChecked("plain.txt", "evil-file"));
    const files = new Files(ws);
    expect(code(() => files.openRead("plain.txt"))).toBe("escape");
    expect(readFileSync(join(outside, "secret.txt"), "utf8")).toBe("OUTSIDE");
  });

  test("symlinks inside the root are followed; one leading out is refused", () => {
    symlinkSync("dir", join(root, "rel"));
    symlinkSync("dir/../..", join(root, "climb"));
    const files = new Files(new Workspace(root));
    const { fd } = files.openRead("rel/secret.txt");
    expect(readFileSync(fd, "utf8")).toBe("inside");
    closeSync(fd);
    expect(code(() => files.openRead("climb/etc/passwd"))).toBe("escape");
    expect(code(() => files.openRead("evil/secret.txt"))).toBe("escape");
    expect(code(() => files.openRead("evil-file"))).toBe("escape");
    // a loop is cut off
    symlinkSync("loop2", join(root, "loop1"));
    symlinkSync("loop1", join(root, "loop2"));
    expect(code(() => files.openRead("loop1"))).toBe("escape");
  });
});
