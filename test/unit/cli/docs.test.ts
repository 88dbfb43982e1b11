import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import * as v from "valibot";
import { resolveVmProvider, type Sources } from "../../../src/config/settings.ts";
import { fieldMeta } from "../../../src/cli/define.ts";
import { vmFlags } from "../../../src/cli/commands/vm/shared.ts";

const root = resolve(import.meta.dir, "../../..");
const docs = ["README.md", "examples/quickstart/README.md", ...readdirSync(join(root, "docs")).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

test("README and docs point only inside the repository: a clone is self-contained", () => {
  const outside: string[] = [];
  for (const doc of docs) {
    const text = readFileSync(join(root, doc), "utf8");
    // markdown links and `code` paths that climb out of the repository or name this machine
    const targets = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((t) => !/^(https?:|mailto:|#)/.test(t) && /^[\w./#-]+$/.test(t));
    const paths = [...text.matchAll(/`((?:\.\.\/|\/work\/)[^`\s]*)`/g)].map((m) => m[1]!);
    for (const t of [...targets, ...paths]) {
      const abs = resolve(dirname(join(root, doc)), t.split("#")[0]!);
      if (relative(root, abs).startsWith("..") || t.startsWith("/work/")) outside.push(`${doc}: ${t}`);
    }
    // a link inside the repository names a file that exists (docs/architecture.md is the lead's)
    for (const t of targets) {
      const abs = resolve(dirname(join(root, doc)), t.split("#")[0]!);
      if (!relative(root, abs).startsWith("..") && !existsSync(abs) && !t.endsWith("docs/architecture.md")) outside.push(`${doc}: ${t} (missing)`);
    }
  }
  expect(outside).toEqual([]);
});

test("docs/config.md and `devx vm --provider` name the VM provider's sources in the order the code uses", () => {
  // the order, read from the code: drop the winning source until none is left
  const all: Sources = { flags: { provider: "lima" }, env: { DEVX_PROVIDER: "colima" }, user: { provider: "orbstack" } as Sources["user"], project: { vm: { provider: "podman" } } as Sources["project"] };
  const order: string[] = [];
  let s = all;
  for (;;) {
    const r = resolveVmProvider(s);
    if (r.from === "default") break;
    order.push(r.from);
    s = { ...s, ...(r.from === "flag" ? { flags: {} } : r.from === "env" ? { env: {} } : r.from === "user" ? { user: {} as Sources["user"] } : { project: undefined }) };
  }
  expect(order).toEqual(["flag", "env", "user", "project"]);
  const words: Record<string, RegExp> = { env: /DEVX_PROVIDER/, user: /user\s+config/, project: /devx\.yaml/ };
  const positions = (text: string) => order.filter((o) => o !== "flag").map((o) => text.search(words[o]!));
  const help = fieldMeta(vmFlags.provider as v.GenericSchema)!.meta.description;
  const doc = readFileSync(join(root, "docs/config.md"), "utf8");
  const docLine = doc.slice(doc.indexOf("the VM provider of `devx vm"));
  for (const text of [help, docLine.slice(0, 300)]) {
    const p = positions(text);
    expect(p.every((x) => x >= 0)).toBe(true);
    expect([...p].sort((a, b) => a - b)).toEqual(p);
  }
});
