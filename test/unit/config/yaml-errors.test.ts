import { describe, expect, test } from "bun:test";
import { parseYaml, ConfigErrors } from "../../../src/config/yaml.ts";
import { configSchema } from "../../../src/config/schema.ts";

/** The problems of one devx.yaml text, as `devx config validate` lists them. */
function problems(text: string): string[] {
  try {
    parseYaml(text, "/p/devx.yaml", configSchema, "/p");
  } catch (e) {
    if (e instanceof ConfigErrors) return e.problems;
    throw e;
  }
  throw new Error("expected a problem");
}

describe("YAML syntax errors say what is wrong, at the line to fix", () => {
  test("a key indented deeper than its sibling is reported on its own line, not the line above", () => {
    expect(problems("name: x\nservices:\n  - name: a\n    command: x\n     port: 5\n")).toEqual([
      'devx.yaml:5:6 "port:" is indented 5 spaces, deeper than "command:" on line 4 (4 spaces), which already has a value: indent it by 4 spaces to make it a key beside "command"',
    ]);
  });

  test("a key that lines up with no block says which indentations would", () => {
    expect(problems("name: x\nservices:\n  - name: a\n    command: x\n   port: 5\n")).toEqual([
      'devx.yaml:5:4 "port:" is indented 3 spaces, which lines up with no block above it (those start at 4, 2 or 0 spaces): indent it like the keys it belongs with',
    ]);
    expect(problems("services:\n  - name: a\n  port: 4\n")).toEqual([
      'devx.yaml:3:3 "port:" lines up with the "- " of the list item on line 2: indent it by 4 spaces to make it part of that item, or start a new item with "- "',
    ]);
  });

  test("an unclosed quote or bracket is reported where it opens, not at the end of the file", () => {
    expect(problems('name: x\nservices:\n  - name: a\n    command: "abc\n    port: 5\n')).toEqual(["devx.yaml:4:14 the quote (\") opened here is never closed"]);
    expect(problems("name: x\nservices:\n  - name: [a\n  - name: b\n")).toEqual(['devx.yaml:3:11 the "[" opened here is never closed: end it with "]"']);
    // quotes inside plain values, comments and block scalars are not openers
    expect(() => parseYaml("name: x # don't\nservices:\n  - name: a\n    command: |\n      echo \"hi\n    port: 4\n", "/p/devx.yaml", configSchema, "/p")).not.toThrow();
  });

  test("tabs, missing colons, duplicate keys, compact mappings and second documents", () => {
    expect(problems("name: x\nservices:\n\t- name: a\n")).toEqual(["devx.yaml:3:1 a tab is used for indentation: YAML allows only spaces there"]);
    expect(problems("name: x\nservices\n  - name: a\n")).toEqual(['devx.yaml:2:1 "services" has no ":" after its key: write "key: value"']);
    expect(problems("name: x\nenv:\n  A: 1\n  A: 2\n")).toEqual(['devx.yaml:4:3 duplicate key "A" (already set on line 3): keep one']);
    expect(problems("name: x\nenv: a: b\n")).toEqual(['devx.yaml:2:6 a value on the same line cannot be another "key: value": move it to its own indented line, or quote the whole value']);
    expect(problems("name: x\n---\nname: y\n")).toEqual(['devx.yaml:2:1 a second YAML document starts here ("---"): devx.yaml holds one document']);
  });
});

describe("aliases, keys and nesting that YAML allows and devx.yaml refuses, positioned", () => {
  test("an alias without an anchor, or inside the node it names", () => {
    expect(problems("env: *nope\n")).toEqual(["devx.yaml:1:6 alias *nope has no anchor &nope before it"]);
    expect(problems("env: *a\nx: &a { A: 1 }\n")).toEqual(["devx.yaml:1:6 alias *a has no anchor &a before it"]);
    expect(problems("a: &x [*x]\n")).toEqual(["devx.yaml:1:8 alias *x is inside the node it names (&x on line 1): that would never end"]);
  });

  test("an alias bomb stops at the expansion limit; ordinary anchors work", () => {
    const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let l = 1; l < 9; l++) bomb.push(`${String.fromCharCode(97 + l)}: &${String.fromCharCode(97 + l)} [${Array(10).fill(`*${String.fromCharCode(96 + l)}`).join(", ")}]`);
    const p = problems(bomb.join("\n") + "\n");
    expect(p).toHaveLength(1);
    expect(p[0]).toStartWith("devx.yaml:2:");
    expect(p[0]).toContain("aliases expand to too many nodes");
    const ok = parseYaml("env: &e { A: '1' }\nprofiles:\n  ci:\n    env: *e\n", "/p/devx.yaml", configSchema, "/p");
    expect(ok.value.profiles?.ci?.env).toEqual({ A: "1" });
  });

  test("list or map keys, empty keys, and nesting past 64 levels", () => {
    expect(problems("? [a]\n: x\n")).toEqual(["devx.yaml:1:3 a key must be a plain word, not a list, map or alias"]);
    expect(problems(": x\n")).toEqual(['devx.yaml:1:1 a key is missing before ":"']);
    expect(problems(`env: ${"[".repeat(100_000)}${"]".repeat(100_000)}\n`)).toEqual(["devx.yaml:1:70 lists and maps are nested more than 64 levels deep here"]);
  });

  test("long values are cut short in messages", () => {
    const [p] = problems(`name: ${"X".repeat(5000)}\n`);
    expect(p!.length).toBeLessThan(200);
  });
});
