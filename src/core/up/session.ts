import { projectName as projectNameOf } from "../../config/project.ts";
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { CoreDeps } from "../deps.ts";
import type { LoadedConfig } from "../../config/load.ts";
import { NetworkError, NotFoundError } from "../../errors.ts";
import { closest } from "../../text/suggest.ts";
import { pidAlive } from "../../platform/atomic.ts";
import { processStartTime } from "../../platform/process.ts";
import { readSession, removeSession, writeSession, type SessionRecord } from "../../platform/sessions.ts";
import type { NodeStatus, Supervisor } from "./supervisor.ts";
import { followLogs, logDir, readLogs, type LogLine } from "./logs.ts";

/**
 * Every running `devx up` (foreground or --detach) records itself as session kind "up", id = the
 * project, with its PID and a control channel: HTTP on 127.0.0.1 with a bearer token that only the
 * session file (mode 0600) holds. `ps`, `down`, `logs`, `run` and the dashboard go through it.
 */
export const SESSION_KIND = "up";

export interface UpSessionData {
  project: string;
  configPath: string;
  controlPort: number;
  token: string;
  logDir: string;
  /** what dependents see: <NAME>_URL/_HOST/_PORT of every running node */
  env: Record<string, string>;
  detached: boolean;
  /** this run's marker (DEVX_UP_RUN in every host node's environment, devx.session on its containers) */
  runId?: string;
  /** the supervisor's start time, so a PID handed to another process does not look like a live run */
  ownerStart?: string;
  /** started host nodes: each leads its own process group (cleanup after a killed supervisor) */
  hosts?: Array<{ node: string; pid: number; start?: string }>;
  /** container names of the container nodes, recorded before any starts */
  containers?: string[];
  /** container names of the database nodes, recorded before any starts */
  databases?: string[];
  /** what the run was started with: `up -d` again with the same is a no-op */
  configHash?: string;
  services?: string[];
}

/** The project name of a loaded devx.yaml (the one rule: src/config/project.ts). */
export function projectName(loaded: LoadedConfig): string {
  return projectNameOf(loaded, loaded.dir);
}

/** The project's up record; `stale` when its supervisor is gone (or its PID now belongs to another process). */
export async function readUpSession(deps: Pick<CoreDeps, "paths" | "exec">, loaded: LoadedConfig): Promise<(SessionRecord<UpSessionData> & { stale: boolean }) | undefined> {
  const rec = await readSession<UpSessionData>(deps.paths.state, SESSION_KIND, projectName(loaded));
  if (!rec) return undefined;
  const alive = pidAlive(rec.pid) && (rec.data.ownerStart === undefined || (await processStartTime(rec.pid, deps.exec)) === rec.data.ownerStart);
  return { ...rec, stale: !alive };
}

export async function writeUpSession(stateDir: string, data: UpSessionData): Promise<void> {
  await writeSession(stateDir, SESSION_KIND, data.project, data);
}

export async function removeUpSession(stateDir: string, project: string): Promise<void> {
  await removeSession(stateDir, SESSION_KIND, project);
}

export interface ControlServer {
  port: number;
  token: string;
  close(): void;
}

/**
 * The supervisor's control channel. GET /status, POST /down, POST /nodes/<name>/<start|stop|restart>,
 * GET /ready (long-poll: 200 when up, 500 with the error when startup failed).
 */
export function serveControl(sup: Supervisor, hooks: { down(): void; ready: Promise<void> }): ControlServer {
  const token = randomBytes(24).toString("hex");
  const expected = Buffer.from(`Bearer ${token}`);
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const auth = Buffer.from(req.headers.get("authorization") ?? "");
      if (auth.length !== expected.length || !timingSafeEqual(auth, expected)) return new Response("forbidden", { status: 403 });
      const url = new URL(req.url);
      if (req.method === "GET" && url.pathname === "/status") return Response.json({ pid: process.pid, nodes: sup.status(), env: sup.exposedEnv() });
      if (req.method === "GET" && url.pathname === "/ready") {
        return hooks.ready.then(
          () => Response.json({ ok: true }),
          (e: Error & { kind?: string; hint?: string }) => Response.json({ ok: false, error: { message: e.message, kind: e.kind, hint: e.hint } }, { status: 500 }),
        );
      }
      if (req.method === "POST" && url.pathname === "/down") {
        hooks.down();
        return Response.json({ ok: true });
      }
      const m = /^\/nodes\/([a-z0-9/-]+)\/(start|stop|restart)$/.exec(url.pathname);
      if (req.method === "POST" && m) {
        const [, name, action] = m;
        if (!sup.node(name!)) return Response.json({ ok: false, error: { message: `no node named ${name}` } }, { status: 404 });
        await (action === "start" ? sup.startNode(name!) : action === "stop" ? sup.stopNode(name!) : sup.restartNode(name!));
        return Response.json({ ok: true, node: sup.node(name!) });
      }
      return new Response("not found", { status: 404 });
    },
  });
  return { port: server.port!, token, close: () => void server.stop(true) };
}

/** A call on a running up's control channel. */
export async function control<T>(data: UpSessionData, method: "GET" | "POST", path: string, timeoutMs = 30_000): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`http://127.0.0.1:${data.controlPort}${path}`, { method, headers: { authorization: `Bearer ${data.token}` }, signal: AbortSignal.timeout(timeoutMs) });
  } catch (e) {
    throw new NetworkError(`the devx up supervisor of ${data.project} does not answer on 127.0.0.1:${data.controlPort}`, "it may have crashed: run `devx doctor --fix` to clear its record, then `devx up` again", { cause: e });
  }
  if (res.status === 404) throw new NotFoundError(`not found: ${path}`, "run `devx ps` to see the nodes");
  return (await res.json()) as T;
}

/** The running up of this project, or NotFoundError. */
export async function requireUp(deps: CoreDeps): Promise<SessionRecord<UpSessionData>> {
  const loaded = await deps.config();
  const rec = await readUpSession(deps, loaded);
  if (!rec || rec.stale) throw new NotFoundError(`devx up is not running for ${projectName(loaded)}`, "start it with `devx up` (or `devx up --detach`)");
  return rec;
}

/** For the dashboard: every node's state, health, port, restarts, uptime and dependencies. */
export async function servicesStatus(deps: CoreDeps): Promise<{ running: boolean; nodes: NodeStatus[] }> {
  const loaded = await deps.findConfig();
  if (!loaded) return { running: false, nodes: [] };
  const rec = await readUpSession(deps, loaded);
  if (!rec || rec.stale) return { running: false, nodes: [] };
  const st = await control<{ nodes: NodeStatus[] }>(rec.data, "GET", "/status");
  return { running: true, nodes: st.nodes };
}

/** The running up's node called `name`, or NotFoundError with a did-you-mean. */
export async function requireNode(deps: CoreDeps, name: string): Promise<{ rec: SessionRecord<UpSessionData>; node: NodeStatus }> {
  const rec = await requireUp(deps);
  const st = await control<{ nodes: NodeStatus[] }>(rec.data, "GET", "/status");
  const node = st.nodes.find((n) => n.name === name);
  if (node) return { rec, node };
  const guess = closest(name, st.nodes.map((n) => n.name));
  throw new NotFoundError(`no node named "${name}" in the running devx up of ${rec.data.project}`, guess ? `did you mean "${guess}"?` : `its nodes: ${st.nodes.map((n) => n.name).join(", ")}`);
}

/** Start/stop/restart one node of the running up (the dashboard's keys and `devx start|stop|restart`). */
export async function nodeAction(deps: CoreDeps, name: string, action: "start" | "stop" | "restart"): Promise<NodeStatus | undefined> {
  const { rec } = await requireNode(deps, name);
  const r = await control<{ ok: boolean; node?: NodeStatus; error?: { message: string } }>(rec.data, "POST", `/nodes/${name}/${action}`, 120_000);
  return r.node;
}

/**
 * For the dashboard ("Enter opens that node's live log"): the node's stored lines, then new ones as
 * they are written, until the signal aborts.
 */
export async function followNodeLog(deps: CoreDeps, node: string, onLine: (l: LogLine) => void, signal: AbortSignal, opts: { tail?: number } = {}): Promise<void> {
  const loaded = await deps.config();
  const dir = logDir(deps.paths.state, projectName(loaded));
  const stored = await readLogs(dir, [node]);
  for (const l of opts.tail === undefined ? stored : stored.slice(-opts.tail)) onLine(l);
  await followLogs(dir, [node], {}, onLine, signal);
}
