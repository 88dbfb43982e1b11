import { expect, test } from "bun:test";
import { projectName } from "../../../src/config/project.ts";

const at = (dir: string, name?: string) => ({ config: { name }, dir });

test("the project name: devx.yaml name, else its directory, else the working directory", () => {
  expect(projectName(at("/home/me/shop", "api"), "/elsewhere")).toBe("api");
  expect(projectName(at("/home/me/My Shop"), "/elsewhere")).toBe("my-shop");
  expect(projectName(undefined, "/home/me/Side_Project")).toBe("side-project");
  expect(projectName(undefined, "/")).toBe("default");
  expect(projectName(at("/x/---"), "/")).toBe("default");
});

test("a long directory name is cut to a valid label value, and two long names stay apart", () => {
  const a = projectName(undefined, `/w/${"a".repeat(70)}-one`);
  const b = projectName(undefined, `/w/${"a".repeat(70)}-two`);
  expect(a).toHaveLength(63);
  expect(a).toMatch(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
  expect(a).not.toBe(b);
  expect(projectName(undefined, `/w/${"a".repeat(63)}`)).toBe("a".repeat(63));
});
