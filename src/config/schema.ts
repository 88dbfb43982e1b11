import * as v from "valibot";
import { parseDuration, parseSizeMiB } from "./duration.ts";

/**
 * The one schema of devx.yaml. It gives the TypeScript types, the validation messages (positions
 * are added by load.ts), and the JSON Schema for editors (`devx config schema`,
 * schema/devx.schema.json). Every object is strict: an unknown key is an error with a suggestion.
 */

const duration = (what = "a duration") =>
  v.pipe(
    v.union([v.string(), v.number()], `expected ${what} like "2s"`),
    v.check((x) => (typeof x === "number" ? x >= 0 : parseDuration(x) !== undefined), `expected ${what} like "2s"`),
    v.description(`${what}: "500ms", "2s", "1m30s" (a bare number means seconds)`),
  );

const size = v.pipe(
  v.union([v.string(), v.number()], 'expected a size like "4GiB"'),
  v.check((x) => parseSizeMiB(x) !== undefined, 'expected a size like "4GiB" or a number of MiB'),
  v.description('a size: "4GiB", "512MiB" (a bare number means MiB)'),
);

const port = v.pipe(v.number("expected a port number"), v.integer("expected a whole port number"), v.minValue(1, "expected a port from 1 to 65535"), v.maxValue(65535, "expected a port from 1 to 65535"));

const name = v.pipe(
  v.string("expected a name"),
  v.regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "expected a name of lowercase letters, digits and dashes"),
);

/** A secret: "env:VAR", "file:/path", or (discouraged) the literal value. */
const secret = v.pipe(v.string("expected a secret reference like \"env:VAR\""), v.description('a secret reference: "env:NAME" or "file:/path" (a literal value works but is discouraged)'));

const envMap = v.record(v.string(), v.union([v.string(), v.number(), v.boolean()], "expected a string, number or boolean"));

export const PROVIDERS = ["auto", "podman", "docker", "nerdctl", "lima", "colima", "docker-desktop", "orbstack"] as const;
export const ENGINES = ["postgres", "redis", "mysql", "mongo"] as const;
export const CONDITIONS = ["service_started", "service_healthy", "service_completed_successfully"] as const;

const dependsOn = v.union(
  [
    v.array(v.string("expected a service name")),
    v.record(v.string(), v.strictObject({ condition: v.optional(v.picklist(CONDITIONS, `expected one of ${CONDITIONS.join(", ")}`)) })),
  ],
  "expected a list of names or a map of name → {condition}",
);

export const healthcheckSchema = v.pipe(
  v.strictObject({
    http: v.optional(v.pipe(v.string(), v.description('path ("/health") or full URL checked with GET; 2xx/3xx is healthy'))),
    tcp: v.optional(v.union([v.boolean(), port], "expected true or a port")),
    exec: v.optional(v.union([v.string(), v.array(v.string())], "expected a command")),
    interval: v.optional(duration("an interval")),
    timeout: v.optional(duration("a timeout")),
    retries: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
    start_period: v.optional(duration("a start period")),
  }),
  v.check((h) => [h.http, h.tcp, h.exec].filter((x) => x !== undefined && x !== false).length === 1, "expected exactly one of http, tcp or exec"),
);

const restart = v.pipe(
  v.string(),
  v.regex(/^(no|always|on-failure(:\d+)?)$/, 'expected "no", "always", "on-failure" or "on-failure:N"'),
);

export const serviceSchema = v.strictObject({
  name,
  runtime: v.optional(v.picklist(["host", "container", "bridge"], "expected host, container or bridge"), "host"),
  command: v.optional(v.union([v.string(), v.array(v.string())], "expected a command string or a list of words")),
  cwd: v.optional(v.string()),
  image: v.optional(v.string()),
  port: v.optional(port),
  container_port: v.optional(port),
  volumes: v.optional(v.array(v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*:\/\S*$/, 'expected "volume-name:/path/in/container"'), v.description("a named volume and where it is mounted")))),
  env: v.optional(envMap),
  depends_on: v.optional(dependsOn),
  healthcheck: v.optional(healthcheckSchema),
  restart: v.optional(restart, "no"),
  stop_grace_period: v.optional(duration("a grace period")),
  bridge: v.optional(
    v.strictObject({
      mode: v.picklist(["connect", "intercept"], "expected connect or intercept"),
      service: v.string(),
      namespace: v.optional(v.string()),
      port: v.optional(v.pipe(port, v.description("the cluster Service's port"))),
      local_port: v.optional(v.pipe(port, v.description("connect: the local port to listen on; intercept: the local port that receives the Service's traffic (e.g. another node's port)"))),
      mirror: v.optional(v.boolean()),
    }),
  ),
});

export const databaseSchema = v.strictObject({
  engine: v.picklist(ENGINES, `expected one of ${ENGINES.join(", ")}`),
  name: v.optional(name),
  version: v.optional(v.union([v.string(), v.number()])),
  image: v.optional(v.string()),
  port: v.optional(port),
  volume: v.optional(v.string()),
  env: v.optional(envMap),
});

export const tunnelSchema = v.strictObject({
  name,
  port: v.optional(port),
  service: v.optional(v.string()),
  domain: v.optional(v.string()),
  basic_auth: v.optional(v.strictObject({ user: v.string(), password: secret })),
});

export const bridgeSchema = v.strictObject({
  context: v.optional(v.string()),
  namespace: v.optional(v.string()),
  kubeconfig: v.optional(v.string()),
  agent_image: v.optional(v.string()),
  grace_period: v.optional(duration("a grace period")),
  auto_port: v.optional(v.boolean()),
  targets: v.optional(v.array(v.pipe(v.string(), v.regex(/^[a-z0-9.-]+(:\d+(:\d+)?)?$/, 'expected "svc[:port[:local]]"')))),
});

export const stateSchema = v.strictObject({
  relay: v.optional(v.pipe(v.string(), v.regex(/^(s3|gs|file):\/\//, "expected s3://bucket/prefix, gs://bucket/prefix or file:///path"))),
  endpoint: v.optional(v.string()),
  region: v.optional(v.string()),
  path_style: v.optional(v.boolean()),
  words: v.optional(v.pipe(v.number(), v.integer(), v.minValue(3), v.maxValue(24))),
  compression_level: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(9))),
});

export const vmSchema = v.strictObject({
  name: v.optional(name),
  provider: v.optional(v.picklist(PROVIDERS, `expected one of ${PROVIDERS.join(", ")}`)),
  cpus: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  memory: v.optional(size),
  disk: v.optional(size),
  ssh_key: v.optional(v.string()),
  inotify: v.optional(
    v.strictObject({
      max_user_watches: v.optional(v.pipe(v.number(), v.integer(), v.minValue(8192))),
      max_user_instances: v.optional(v.pipe(v.number(), v.integer(), v.minValue(128))),
    }),
  ),
  cloudflare: v.optional(
    v.strictObject({
      account_id: v.optional(v.string()),
      zone: v.optional(v.string()),
      api_token: v.optional(secret),
    }),
  ),
  tailscale: v.optional(
    v.strictObject({
      authkey: v.optional(secret),
      hostname: v.optional(v.string()),
    }),
  ),
});

export const sessionsSchema = v.strictObject({
  image: v.optional(v.string()),
  storage: v.optional(v.pipe(v.string(), v.regex(/^(s3|gs|file):\/\//, "expected s3://, gs:// or file:// storage"))),
  workspace: v.optional(v.string()),
  idle_timeout: v.optional(duration("an idle timeout")),
  cpus: v.optional(v.number()),
  memory: v.optional(size),
});

/** Everything a profile may overlay. */
const overlayEntries = {
  provider: v.optional(v.picklist(PROVIDERS, `expected one of ${PROVIDERS.join(", ")}`)),
  env: v.optional(envMap),
  databases: v.optional(v.array(databaseSchema)),
  services: v.optional(v.array(serviceSchema)),
  tunnels: v.optional(v.array(tunnelSchema)),
  bridge: v.optional(bridgeSchema),
  state: v.optional(stateSchema),
  vm: v.optional(vmSchema),
  sessions: v.optional(sessionsSchema),
};

export const profileSchema = v.strictObject(overlayEntries);

export const configSchema = v.strictObject({
  name: v.optional(name),
  include: v.optional(v.array(v.string("expected a relative path"))),
  profiles: v.optional(v.record(v.string(), profileSchema)),
  ...overlayEntries,
});

export type DevxConfig = v.InferOutput<typeof configSchema>;
export type ServiceConfig = v.InferOutput<typeof serviceSchema>;
export type DatabaseConfig = v.InferOutput<typeof databaseSchema>;
export type TunnelConfig = v.InferOutput<typeof tunnelSchema>;
export type HealthcheckConfig = v.InferOutput<typeof healthcheckSchema>;
export type VmConfig = v.InferOutput<typeof vmSchema>;
export type StateConfig = v.InferOutput<typeof stateSchema>;
export type BridgeConfig = v.InferOutput<typeof bridgeSchema>;

/** The user's own settings ($XDG_CONFIG_HOME/devx/config.yaml). */
export const userConfigSchema = v.strictObject({
  provider: v.optional(v.picklist(PROVIDERS, `expected one of ${PROVIDERS.join(", ")}`)),
  relay: v.optional(v.pipe(v.string(), v.regex(/^(s3|gs|file):\/\//, "expected s3://, gs:// or file://"))),
  profile: v.optional(v.string()),
  vm_name: v.optional(name),
  kube_context: v.optional(v.string()),
  color: v.optional(v.boolean()),
  include_allow: v.optional(
    v.pipe(
      v.array(v.pipe(v.string(), v.regex(/^(\/|~\/)/, 'expected an absolute directory ("/…" or "~/…")'))),
      v.description("directories outside a project whose files a devx.yaml may include: (a repo's own devx.yaml can never widen this)"),
    ),
  ),
});
export type UserConfig = v.InferOutput<typeof userConfigSchema>;

/** Normalised depends_on: name → condition. */
export function dependencies(s: ServiceConfig): Array<{ name: string; condition: (typeof CONDITIONS)[number] }> {
  const d = s.depends_on;
  if (!d) return [];
  if (Array.isArray(d)) return d.map((name) => ({ name, condition: "service_started" as const }));
  return Object.entries(d).map(([name, c]) => ({ name, condition: c.condition ?? "service_started" }));
}
