import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../../src/cli/main.ts";
import { memoryIO } from "../../../src/cli/io.ts";

/**
 * A deterministic mutation fuzzer over devx.yaml: seeded mutations of the example configs (byte
 * flips, truncation, indentation, alias bombs, unresolved and cyclic aliases, deep nesting, huge
 * scalars, hostile includes) through `devx config validate --json`. Every outcome must be success
 * or a config error (exit 3) whose every problem is positioned "file:line:col" — never an internal
 * error ("this is a bug in devx"), never a hang.
 */
const SEED = 0x5eed_12;
const ROUNDS = 760;

const root = mkdtempSync(join(tmpdir(), "devx-fuzz-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const RICH = `name: shop
env:
  LOG_LEVEL: debug
  FEATURE: true
include: [infra/db.yaml]
databases:
  - engine: postgres
    version: 16
  - engine: redis
    name: cache
    port: 6390
services:
  - name: worker
    command: ./worker --queue "$CACHE_URL"
    restart: on-failure:3
    stop_grace_period: 5s
  - name: api
    command: ["./api", "--port", "8080"]
    port: 8080
    env: { MODE: dev }
    depends_on:
      worker: { condition: service_started }
      postgres: { condition: service_healthy }
    healthcheck:
      http: /health
      interval: 2s
      retries: 5
  - name: web
    runtime: container
    image: docker.io/library/nginx:1.27
    port: 8081
    container_port: 80
    volumes: ["web-cache:/var/cache/nginx"]
    depends_on: [api]
  - name: orders
    runtime: bridge
    bridge: { mode: connect, service: orders, port: 80, local_port: 9090 }
tunnels:
  - name: public
    service: api
bridge:
  namespace: dev
  targets: ["orders:80"]
state:
  relay: s3://bucket/devx
  words: 6
vm:
  cpus: 4
  memory: 8GiB
  cloudflare: { zone: example.com, api_token: "env:CF_TOKEN" }
profiles:
  ci:
    env: { LOG_LEVEL: warn }
    services:
      - name: e2e
        command: ./e2e
        depends_on: { api: { condition: service_healthy } }
`;
const INCLUDED = "databases:\n  - engine: mongo\n    name: events\nenv:\n  SHARED: 'yes'\n";
const QUICKSTART = readFileSync(join(import.meta.dir, "../../../examples/quickstart/devx.yaml"), "utf8");
const SEEDS = [RICH, QUICKSTART];

const TOKENS = [":", "- ", "-", "[", "]", "{", "}", '"', "'", "&a ", "*a", "*", "&", "!", "!!binary ", "|", ">", "\t", "\n", " ", "  ", "#", "%", "@", "`", ",", "?", "---\n", "...", "\0", "\uFFFD", "<<: *a", "~", "null", "0x1F", "1e999", "-.inf", "é"];

type Mutation = { name: string; files: Record<string, string> };

function mutate(r: () => number, i: number): Mutation {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const base = pick(SEEDS);
  const at = (s: string) => Math.floor(r() * (s.length + 1));
  const lines = base.split("\n");
  const line = Math.floor(r() * lines.length);
  const files: Record<string, string> = { "infra/db.yaml": INCLUDED };
  const kind = i % 18;
  let text = base;
  let name = "";
  switch (kind) {
    case 0:
    case 1: {
      const n = 1 + Math.floor(r() * 4);
      for (let k = 0; k < n; k++) {
        const p = at(text);
        text = text.slice(0, p) + pick(TOKENS) + text.slice(p + (r() < 0.5 ? 1 : 0));
      }
      name = `token flips ×${n}`;
      break;
    }
    case 2: {
      const p = at(text);
      text = text.slice(0, p) + String.fromCharCode(Math.floor(r() * 256)) + text.slice(p + 1);
      name = "byte flip";
      break;
    }
    case 3:
      text = text.slice(0, at(text));
      name = "truncated";
      break;
    case 4: {
      const d = Math.floor(r() * 7) - 3;
      lines[line] = d >= 0 ? " ".repeat(d) + lines[line] : lines[line]!.slice(-d);
      text = lines.join("\n");
      name = `line ${line + 1} indent ${d}`;
      break;
    }
    case 5: {
      const a = line;
      const b = Math.floor(r() * lines.length);
      [lines[a], lines[b]] = [lines[b]!, lines[a]!];
      text = lines.join("\n");
      name = "lines swapped";
      break;
    }
    case 6: {
      const levels = 4 + Math.floor(r() * 8);
      const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
      for (let l = 1; l < levels; l++) bomb.push(`${String.fromCharCode(97 + l)}: &${String.fromCharCode(97 + l)} [${Array(10).fill(`*${String.fromCharCode(96 + l)}`).join(", ")}]`);
      text = `${bomb.join("\n")}\n${text}`;
      name = `alias bomb ${levels} levels`;
      break;
    }
    case 7:
      lines[line] = `${lines[line]} *${pick(["nope", "a", "x1"])}`;
      text = (r() < 0.5 ? "x: &a\n  - *a\n" : "env: *undefined_anchor\n") + lines.join("\n");
      name = "unresolved or cyclic alias";
      break;
    case 8: {
      const depth = pick([30, 65, 200, 5000, 50000]);
      const open = pick(["[", "{a: "]);
      text = `${text}\nextra: ${open.repeat(depth)}1${(open === "[" ? "]" : "}").repeat(depth)}\n`;
      name = `nesting ${depth}`;
      break;
    }
    case 9: {
      const size = pick([10_000, 400_000, 1_100_000]);
      text = text.replace("name: shop", `name: ${"s".repeat(size)}`).replace("name: quickstart", `name: "${"q".repeat(size)}"`);
      name = `huge scalar ${size}`;
      break;
    }
    case 10: {
      const inc = pick(["../../../../../dev/zero", "/etc/passwd", "infra", "missing.yaml", "self.yaml", "bad.yaml", "~/x.yaml", "", "infra/../../x.yaml"]);
      files["self.yaml"] = "include: [self.yaml]\n";
      files["bad.yaml"] = "services:\n  - name: a\n     command: x\n";
      text = text.replace(/include: \[infra\/db.yaml\]|name: quickstart/, (m) => `${m.startsWith("name") ? `${m}\n` : ""}include: [${JSON.stringify(inc)}]`);
      name = `include ${inc}`;
      break;
    }
    case 11:
      text = text.replace("include: [infra/db.yaml]", pick(["include: infra/db.yaml", "include: [1, 2]", "include: [{a: b}]", "include:\n  - infra/db.yaml\n  - infra/db.yaml"]));
      name = "include shape";
      break;
    case 12: {
      const p = at(text);
      text = text.slice(0, p) + text.slice(p + 1 + Math.floor(r() * 40));
      name = "span deleted";
      break;
    }
    case 13:
      lines.splice(line, 0, lines[line]!);
      text = lines.join("\n");
      name = "line duplicated";
      break;
    case 14:
      text = text.replace(/: [^\n]+/g, (m) => (r() < 0.08 ? pick([": [1, 2]", ": {a: 1}", ": ~", ": -1", ": 99999", ": true", ': ""', ": 1.5", ": [[[]]]"]) : m));
      name = "values retyped";
      break;
    case 15:
      text = text.replace(/- name: (\w+)/g, (m) => (r() < 0.3 ? `- name: ${pick(["api", "worker", "postgres", "Bad Name", "x".repeat(70)])}` : m)).replace(/depends_on: \[api\]/, pick(["depends_on: [nope]", "depends_on: [web]", "depends_on: [api, api]"]));
      name = "names shuffled";
      break;
    case 16:
      files["infra/db.yaml"] = mutate(r, 0).files["devx.yaml"]!.replace(/^include:.*$/m, "");
      name = "include mutated";
      break;
    default:
      text = text.replace(/\n/g, () => (r() < 0.05 ? "\r\n" : r() < 0.02 ? "\n\t" : "\n"));
      name = "line endings and tabs";
  }
  files["devx.yaml"] = text;
  return { name, files };
}

const POSITIONED = /^[^\s:][^\s]*:\d+:\d+ /;

test(`${ROUNDS} seeded mutations of devx.yaml: every one is valid or a positioned config error (exit 3)`, async () => {
  const r = rng(SEED);
  const outcomes = { valid: 0, invalid: 0 };
  const bad: string[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const m = mutate(r, i);
    const dir = join(root, `m${i}`);
    for (const [f, text] of Object.entries(m.files)) {
      mkdirSync(join(dir, f, ".."), { recursive: true });
      writeFileSync(join(dir, f), text);
    }
    const io = memoryIO();
    const code = await main(["config", "validate", "--json"], { io, cwd: dir, env: { ...process.env, DEVX_PROFILE: i % 5 === 0 ? "ci" : undefined } });
    const out = io.stdout().trim();
    const doc = out ? (JSON.parse(out.split("\n").pop()!) as { valid?: boolean; problems?: string[]; error?: { kind: string; message: string } }) : {};
    if (code === 0 && doc.valid) outcomes.valid++;
    else if (code === 3 && doc.problems?.length && doc.problems.every((p) => POSITIONED.test(p))) outcomes.invalid++;
    else bad.push(`#${i} ${m.name}: exit ${code} ${JSON.stringify(doc).slice(0, 300)} ${io.stderr().slice(0, 200)}`);
    rmSync(dir, { recursive: true, force: true });
  }
  expect(bad).toEqual([]);
  // the corpus exercises both sides: mutations that stay valid and ones that do not
  expect(outcomes.valid).toBeGreaterThan(20);
  expect(outcomes.invalid).toBeGreaterThan(ROUNDS / 2);
}, 120_000);
