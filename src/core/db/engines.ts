import type { ENGINES } from "../../config/schema.ts";

export type Engine = (typeof ENGINES)[number];

/** What devx generated for one database; stored 0600 under the state dir, never in labels or argv. */
export interface Credentials {
  user: string;
  password: string;
  database: string;
  /** mysql only: the root password (separate from the application user's) */
  rootPassword?: string;
}

/** One readiness probe, run inside the container; it passes when it exits 0 and stdout matches. */
export interface Probe {
  what: string;
  argv: string[];
  expect?: RegExp;
}

/**
 * How devx drives one engine. The env contract is the official image's (POSTGRES_*, MYSQL_*,
 * MONGO_INITDB_*); the offline test images keep the same contract, so this table serves both.
 * Probes read secrets from the container's own environment (`$POSTGRES_PASSWORD` expanded by a
 * shell inside the container), so no password appears in any argv on the host or in the container.
 */
export interface EngineSpec {
  engine: Engine;
  defaultImage: string;
  containerPort: number;
  /** where the named volume is mounted */
  dataDir: string;
  /** URL scheme and the env var stem used when the database has no explicit name */
  scheme: string;
  env(c: Credentials): Record<string, string>;
  secretEnv(c: Credentials): Record<string, string>;
  command?: string[];
  probes(c: Credentials): Probe[];
  url(c: Credentials, host: string, port: number): string;
  /** redis has no user or database name to generate */
  hasUser: boolean;
}

const enc = encodeURIComponent;

export const ENGINE_SPECS: Record<Engine, EngineSpec> = {
  postgres: {
    engine: "postgres",
    defaultImage: "docker.io/library/postgres:16",
    containerPort: 5432,
    dataDir: "/var/lib/postgresql/data",
    scheme: "postgres",
    hasUser: true,
    env: (c) => ({ POSTGRES_USER: c.user, POSTGRES_DB: c.database }),
    secretEnv: (c) => ({ POSTGRES_PASSWORD: c.password }),
    // pg_isready over TCP: the official image's init server listens on the socket only, so this
    // cannot pass before the real server is up; then a real query with the generated password
    probes: (c) => [
      { what: "pg_isready", argv: ["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432", "-U", c.user, "-d", c.database] },
      { what: "SELECT 1", argv: ["sh", "-c", 'PGPASSWORD="$POSTGRES_PASSWORD" exec psql -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -tAc "SELECT 1"'], expect: /^1$/m },
    ],
    url: (c, host, port) => `postgres://${enc(c.user)}:${enc(c.password)}@${host}:${port}/${enc(c.database)}`,
  },
  redis: {
    engine: "redis",
    defaultImage: "docker.io/library/redis:7",
    containerPort: 6379,
    dataDir: "/data",
    scheme: "redis",
    hasUser: false,
    env: () => ({}),
    secretEnv: (c) => ({ REDIS_PASSWORD: c.password }),
    // The official image has no password variable and `--requirepass` would put it in argv: the
    // password goes in as config on stdin, through the image's own entry point so the server still
    // drops to the redis user. `-` must be the first argument: that entry point appends
    // `--protected-mode no`, and redis reads stdin only for a `-` in first or last position.
    command: ["sh", "-c", 'exec docker-entrypoint.sh redis-server - --appendonly yes <<DEVX\nrequirepass $REDIS_PASSWORD\nDEVX\n'],
    probes: () => [{ what: "redis-cli ping", argv: ["sh", "-c", 'REDISCLI_AUTH="$REDIS_PASSWORD" exec redis-cli -h 127.0.0.1 ping'], expect: /^PONG$/m }],
    url: (c, host, port) => `redis://:${enc(c.password)}@${host}:${port}/0`,
  },
  mysql: {
    engine: "mysql",
    defaultImage: "docker.io/library/mysql:8",
    containerPort: 3306,
    dataDir: "/var/lib/mysql",
    scheme: "mysql",
    hasUser: true,
    env: (c) => ({ MYSQL_USER: c.user, MYSQL_DATABASE: c.database }),
    secretEnv: (c) => ({ MYSQL_PASSWORD: c.password, MYSQL_ROOT_PASSWORD: c.rootPassword ?? c.password }),
    // over TCP for the same reason as postgres: the init server runs with --skip-networking
    probes: () => [
      { what: "mysqladmin ping", argv: ["sh", "-c", 'MYSQL_PWD="$MYSQL_ROOT_PASSWORD" exec mysqladmin -h 127.0.0.1 -uroot ping'], expect: /alive/ },
      { what: "SELECT 1", argv: ["sh", "-c", 'MYSQL_PWD="$MYSQL_PASSWORD" exec mysql -h 127.0.0.1 -u"$MYSQL_USER" -N -B -e "SELECT 1" "$MYSQL_DATABASE"'], expect: /^1$/m },
    ],
    url: (c, host, port) => `mysql://${enc(c.user)}:${enc(c.password)}@${host}:${port}/${enc(c.database)}`,
  },
  mongo: {
    engine: "mongo",
    defaultImage: "docker.io/library/mongo:7",
    containerPort: 27017,
    dataDir: "/data/db",
    scheme: "mongodb",
    hasUser: true,
    env: (c) => ({ MONGO_INITDB_ROOT_USERNAME: c.user, MONGO_INITDB_DATABASE: c.database }),
    secretEnv: (c) => ({ MONGO_INITDB_ROOT_PASSWORD: c.password }),
    // The official image's init server listens on 127.0.0.1 only: probing the container's own
    // address reaches the final server; authenticating proves the root user exists.
    probes: () => [
      {
        what: "mongosh ping",
        argv: [
          "sh",
          "-c",
          'exec mongosh --quiet --norc --host "$(hostname -i | cut -d" " -f1)" --eval "$0"',
          "const a = db.getSiblingDB('admin'); a.auth(process.env.MONGO_INITDB_ROOT_USERNAME, process.env.MONGO_INITDB_ROOT_PASSWORD); print(JSON.stringify(a.runCommand({ ping: 1 })))",
        ],
        expect: /"ok":1/,
      },
    ],
    url: (c, host, port) => `mongodb://${enc(c.user)}:${enc(c.password)}@${host}:${port}/${enc(c.database)}?authSource=admin`,
  },
};

/** A SQL/mongo identifier from a project name: lowercase letters, digits, underscores, ≤ 32 chars. */
export function identifier(project: string): string {
  let id = project.toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^_+|_+$/g, "");
  if (!/^[a-z]/.test(id)) id = `app_${id}`;
  // names that the engines reserve for themselves
  if (["postgres", "root", "mysql", "admin", "template0", "template1"].includes(id)) id = `${id}_app`;
  return id.slice(0, 32).replace(/_+$/, "");
}
