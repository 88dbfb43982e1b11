import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { arg, defineCommand, flag, list, number, option, variadicArg, choice, optionalArg } from "../../../src/cli/define.ts";
import { parseArgs, usageLine } from "../../../src/cli/parse.ts";
import { UsageError } from "../../../src/errors.ts";

const share = defineCommand({
  path: ["state", "share"],
  group: "Orchestration & state",
  dryRun: "plan",
  summary: "share",
  options: v.object({
    dbOnly: flag("databases only"),
    relay: option("relay URI", { placeholder: "uri" }),
    words: number("words", { min: 3, max: 24, default: 4 }),
    target: list("targets", { short: "t" }),
    mode: choice("mode", ["full", "db-only"] as const),
  }),
  async run() {},
});

const run = defineCommand({
  path: ["run"],
  group: "Orchestration & state",
  dryRun: "plan",
  summary: "run",
  options: v.object({ command: variadicArg("command", { required: true }) }),
  async run() {},
});

const attach = defineCommand({
  path: ["state", "attach"],
  group: "Orchestration & state",
  dryRun: "plan",
  summary: "attach",
  options: v.object({ id: arg("share id", { placeholder: "share-id" }), extra: optionalArg("extra") }),
  async run() {},
});

function usageErr(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error("expected a UsageError");
}

describe("parseArgs", () => {
  test("defaults come from the schema", () => {
    const o = parseArgs(share, []);
    expect(o).toMatchObject({ dbOnly: false, words: 4, target: [], json: false, yes: false, dryRun: false });
    expect(o.relay).toBeUndefined();
  });

  test("long, --x=y, short, grouped short flags, repeated lists, globals", () => {
    const o = parseArgs(share, ["--db-only", "--relay=s3://b/p", "--words", "6", "-t", "api", "-tweb:80", "-yf", "x.yaml", "--json"]);
    expect(o).toMatchObject({ dbOnly: true, relay: "s3://b/p", words: 6, target: ["api", "web:80"], yes: true, file: "x.yaml", json: true });
  });

  test("numbers are checked against the schema", () => {
    expect(usageErr(() => parseArgs(share, ["--words", "two"])).message).toBe('--words: expected a number, got "two"');
    expect(usageErr(() => parseArgs(share, ["--words", "2"])).message).toContain("--words: expected at least 3");
  });

  test("choices are validated", () => {
    expect(parseArgs(share, ["--mode", "db-only"]).mode).toBe("db-only");
    expect(usageErr(() => parseArgs(share, ["--mode", "half"])).message).toContain("expected one of full, db-only");
  });

  test("an unknown flag suggests the closest one", () => {
    const e = usageErr(() => parseArgs(share, ["--db-onyl"]));
    expect(e.message).toBe("unknown flag --db-onyl for `devx state share`");
    expect(e.hint).toBe("did you mean --db-only?");
  });

  test("a boolean flag refuses a value; an option needs one", () => {
    expect(usageErr(() => parseArgs(share, ["--db-only=yes"])).message).toContain("does not take a value");
    expect(usageErr(() => parseArgs(share, ["--relay"])).message).toContain("--relay needs a value");
  });

  test("positional args: required, optional, too many", () => {
    expect(parseArgs(attach, ["s3://b/o:a-b-c-d"]).id).toBe("s3://b/o:a-b-c-d");
    expect(usageErr(() => parseArgs(attach, [])).message).toBe("missing <share-id> for `devx state attach`");
    expect(usageErr(() => parseArgs(attach, ["a", "b", "c"])).message).toBe('unexpected argument "c" for `devx state attach`');
  });

  test("everything after -- is positional, flags included", () => {
    expect(parseArgs(run, ["--", "ls", "-la", "--json"]).command).toEqual(["ls", "-la", "--json"]);
    expect(parseArgs(run, ["--json", "--", "npm", "test"])).toMatchObject({ json: true, command: ["npm", "test"] });
    expect(usageErr(() => parseArgs(run, [])).message).toContain("missing <command...>");
  });

  test("--help short-circuits validation", () => {
    expect(parseArgs(attach, ["--help"]).help).toBe(true);
  });

  test("usage line is derived from the schema", () => {
    expect(usageLine(share)).toBe("devx state share [flags]");
    expect(usageLine(attach)).toBe("devx state attach <share-id> [extra]");
    expect(usageLine(run)).toBe("devx run <command...>");
  });
});
