import { describe, expect, test } from "bun:test";
import { parseArgs } from "../../../src/cli/parse.ts";
import { route } from "../../../src/cli/run.ts";
import { commands } from "../../../src/cli/commands/index.ts";

const parse = (argv: string[]) => {
  const r = route(argv, commands);
  if (!r.cmd) throw new Error(`no command for ${argv.join(" ")}`);
  return { path: r.cmd.path.join(" "), opts: parseArgs(r.cmd, r.rest) as Record<string, unknown> };
};

describe("db command lines", () => {
  test("logs -F follows; -f is the global --file before and after the command path", () => {
    expect(parse(["db", "logs", "cache", "-F"]).opts).toMatchObject({ target: "cache", follow: true });
    expect(parse(["-f", "x/devx.yaml", "db", "logs", "postgres", "--follow", "--tail", "5"]).opts).toMatchObject({ target: "postgres", follow: true, tail: 5, file: "x/devx.yaml" });
    expect(parse(["db", "logs", "postgres", "-f", "x/devx.yaml"]).opts).toMatchObject({ target: "postgres", follow: false, file: "x/devx.yaml" });
    expect(parse(["db", "logs", "redis", "--file", "y.yaml"]).opts).toMatchObject({ follow: false, file: "y.yaml" });
  });

  test("spawn: engine or name, optional; port is a checked number", () => {
    expect(parse(["db", "spawn", "postgres", "--port", "5433", "--image", "localhost/pg:1"]).opts).toMatchObject({ target: "postgres", port: 5433, image: "localhost/pg:1" });
    expect(parse(["db", "spawn"]).opts.target).toBeUndefined();
    expect(() => parse(["db", "spawn", "redis", "--port", "70000"])).toThrow("expected at most 65535");
  });

  test("rm takes --volume and -y; url takes --reveal", () => {
    expect(parse(["db", "rm", "cache", "--volume", "-y"]).opts).toMatchObject({ target: "cache", volume: true, yes: true });
    expect(parse(["db", "url", "postgres", "--json", "--reveal"]).opts).toMatchObject({ target: "postgres", json: true, reveal: true });
    expect(() => parse(["db", "url"])).toThrow();
  });
});
